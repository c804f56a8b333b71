/**
 * The long-lived virsh session and its pool, against real virsh and
 * libvirt's built-in test driver (`test:///default`, no daemon; its state
 * lives as long as the connection, which shows the connection is reused):
 * framing, failures, restart after the child dies, timeouts.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DriverError } from '../../../src/hypervisor/driver.js';
import { VirshSession } from '../../../src/hypervisor/libvirt/session.js';
import { SessionPool } from '../../../src/hypervisor/libvirt/session-pool.js';
import { commandFailed } from '../../../src/hypervisor/libvirt/session-protocol.js';
import { SESSION_LINE_LIMIT, Virsh } from '../../../src/hypervisor/libvirt/virsh.js';

const TEST_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';
const virsh = new Virsh('test:///default', 'virsh', { sessions: 0 });
/** Blocks inside virsh for `s` seconds (the test driver emits no events). */
const block = (s: number): string[] => ['event', '--event', 'lifecycle', '--timeout', String(s)];

const open: { close(): Promise<void> }[] = [];
function session(target = virsh): VirshSession {
  const s = new VirshSession(target, { env: Virsh.env() });
  open.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe('VirshSession (real virsh, test driver)', () => {
  it('answers each command of a request byte for byte as its own virsh process would, on one reused connection', async () => {
    const s = session();
    const commands = [
      ['domstate', '--reason', '--domain', TEST_UUID],
      ['dominfo', '--domain', TEST_UUID],
      ['dumpxml', '--inactive', '--domain', TEST_UUID],
      ['list', '--all', '--uuid', '--name'],
    ];
    const outputs = await s.run(commands, 10_000);
    const alone = await Promise.all(commands.map(async (c) => (await promisify(execFile)('virsh', virsh.argv(c), { env: Virsh.env() })).stdout));
    // The test driver's CPU time follows the clock; everything else must match.
    const steady = (text: string) => text.replace(/^CPU time:.*$/m, 'CPU time: -');
    expect(outputs.map((o) => steady(o.stdout))).toEqual(alone.map(steady));
    expect(outputs[1]!.stdout).toMatch(/^CPU time:/m);
    expect(outputs.map(commandFailed)).toEqual([false, false, false, false]);
    expect(outputs[0]!.stdout).toBe('running (unknown)\n');

    // The test driver's state lives in the connection: a change is seen by the next request.
    const pid = s.pid;
    await s.run([['destroy', '--domain', TEST_UUID]], 10_000);
    const [after] = await s.run([['domstate', '--reason', '--domain', TEST_UUID]], 10_000);
    expect(after!.stdout).toBe('shut off (destroyed)\n');
    expect(s.pid).toBe(pid);
    expect(s.started).toBe(1);
  });

  it('frames a long request (list() of many domains) command by command', async () => {
    const s = session();
    const commands = Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? ['domstate', '--reason', '--domain', TEST_UUID] : ['dominfo', '--domain', `missing-${i}`]));
    const outputs = await s.run(commands, 30_000);
    expect(outputs).toHaveLength(120);
    outputs.forEach((o, i) => {
      if (i % 2 === 0) expect(o).toEqual({ stdout: 'running (unknown)\n', stderr: '' });
      else expect(o.stderr).toBe(`error: failed to get domain 'missing-${i}'\n`);
    });
  });

  it("reports each command's own failure and goes on with the next", async () => {
    const s = session();
    const [missing, ok] = await s.run([['dominfo', '--domain', 'no-such-domain'], ['domstate', '--domain', TEST_UUID]], 10_000);
    expect(commandFailed(missing!)).toBe(true);
    expect(missing!.stderr).toContain("failed to get domain 'no-such-domain'");
    expect(ok).toEqual({ stdout: 'running\n', stderr: '' });
  });

  it('fails a request virsh refuses to parse, with its message, and keeps the child for the next one', async () => {
    const s = session();
    await s.run([['version']], 10_000);
    const pid = s.pid;
    const err = await s.run([['domstate', '--domain', TEST_UUID], ['dominfo', '--bogus', TEST_UUID]], 10_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).message).toContain("doesn't support option --bogus");
    const [ok] = await s.run([['domstate', '--domain', TEST_UUID]], 10_000);
    expect(ok!.stdout).toBe('running\n');
    expect(s.pid).toBe(pid);
  });

  it('starts a new child after the old one died, idle or in the middle of a request', async () => {
    const s = session();
    await s.run([['destroy', '--domain', TEST_UUID]], 10_000);
    const first = s.pid!;
    process.kill(first, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    // A fresh connection: the test driver's domain is running again.
    const [state] = await s.run([['domstate', '--domain', TEST_UUID]], 10_000);
    expect(state!.stdout).toBe('running\n');
    expect(s.pid).not.toBe(first);
    expect(s.started).toBe(2);

    const second = s.pid!;
    const inFlight = s.run([block(20)], 30_000);
    const queued = s.run([['domstate', '--domain', TEST_UUID]], 30_000);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(second, 'SIGKILL');
    await expect(inFlight).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('exited') });
    expect((await queued)[0]!.stdout).toBe('running\n');
    expect(s.started).toBe(3);
  });

  it('kills a child that does not answer within the timeout; queued requests run on a new one or time out themselves', async () => {
    const s = session();
    await s.run([['version']], 10_000);
    const hung = s.pid!;
    const t0 = performance.now();
    const slow = s.run([block(30)], 400);
    const behind = s.run([['domstate', '--domain', TEST_UUID]], 10_000);
    const impatient = s.run([['domstate', '--domain', TEST_UUID]], 200);
    await expect(impatient).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('waiting for an earlier command') });
    await expect(slow).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('timed out after 400 ms') });
    expect((await behind)[0]!.stdout).toBe('running\n');
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(s.pid).not.toBe(hung);
    // The hung child is gone, not left behind.
    await new Promise((r) => setTimeout(r, 100));
    expect(() => process.kill(hung, 0)).toThrow();
  });

  it('refuses commands a line cannot carry before sending anything', async () => {
    const s = session();
    await expect(s.run([['dominfo', '--domain', 'a b']], 1000)).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(s.run([['dominfo', "it's"]], 1000)).rejects.toMatchObject({ kind: 'InvalidSpec' });
    expect(s.started).toBe(0);
  });

  it('maps a missing virsh and an unreachable libvirtd to Unavailable', async () => {
    const missing = session(new Virsh('test:///default', '/nonexistent/virsh', { sessions: 0 }));
    const queued = [missing.run([['version']], 5000), missing.run([['version']], 5000)];
    for (const r of queued) await expect(r).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('not found') });
    // spawn() itself throwing (here: a NUL byte in the program name) fails the request and those queued behind it.
    const unspawnable = session(new Virsh('test:///default', 'vir\0sh', { sessions: 0 }));
    const both = [unspawnable.run([['version']], 5000), unspawnable.run([['version']], 5000)];
    for (const r of both) await expect(r).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('cannot start') });
    const refused = session(new Virsh('qemu+tcp://127.0.0.1:1/system', 'virsh', { sessions: 0 }));
    await expect(refused.run([['version']], 10_000)).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('failed to connect') });
  });

  it('fails queued requests on close and ends its child', async () => {
    const s = session();
    await s.run([['version']], 10_000);
    const pid = s.pid!;
    const pending = s.run([block(20)], 30_000).catch((e: unknown) => e);
    await s.close();
    expect(await pending).toMatchObject({ kind: 'Unavailable', message: 'virsh session closed' });
    await expect(s.run([['version']], 1000)).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('closed') });
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('SessionPool', () => {
  it('runs requests side by side up to its size and reuses idle sessions', async () => {
    const pool = new SessionPool(virsh, { size: 2, env: Virsh.env() });
    open.push(pool);
    const t0 = performance.now();
    await Promise.all([pool.run([block(1)], 10_000), pool.run([block(1)], 10_000)]);
    const parallel = performance.now() - t0;
    // Two one-second waits side by side take about one second, not two.
    expect(parallel).toBeLessThan(1900);
    expect(pool.members).toHaveLength(2);
    const pids = pool.members.map((m) => m.pid);
    // A third request, and more, while all are idle: no new process.
    await pool.run([['version']], 10_000);
    await Promise.all([pool.run([['version']], 10_000), pool.run([['version']], 10_000), pool.run([['version']], 10_000)]);
    expect(pool.members).toHaveLength(2);
    expect(pool.members.map((m) => m.pid)).toEqual(pids);
    expect(pool.members.map((m) => m.started)).toEqual([1, 1]);
  });
});

describe('Virsh.run / batch', () => {
  it('carries plain commands in a session and runs the others as argv in their own process', async () => {
    const v = new Virsh('test:///default', 'virsh', { sessions: 1 });
    open.push(v);
    await v.run(['destroy', '--domain', TEST_UUID]);
    // Same session: the destroyed state is visible.
    expect(await v.run(['domstate', '--domain', TEST_UUID])).toBe('shut off\n');
    // A token with a space cannot go into a line: its own process (a fresh
    // test driver, where the domain runs), with the argument intact.
    const err = await v.run(['dominfo', '--domain', 'no such domain']).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'NotFound', message: expect.stringContaining("'no such domain'") });
    const outcomes = await v.batch([['domstate', '--domain', 'test'], ['dominfo', '--domain', "it's"]]);
    expect(outcomes[0]).toEqual({ ok: true, stdout: 'running\n' });
    expect(outcomes[1]).toMatchObject({ ok: false, error: { kind: 'NotFound' } });
    expect(v.sessions?.members.map((m) => m.started)).toEqual([1]);
  });

  it('runs a batch too long for a session line as one framed argv string in its own process, with the same outcomes', async () => {
    const v = new Virsh('test:///default', 'virsh', { sessions: 1 });
    open.push(v);
    const commands = Array.from({ length: 150 }, (_, i) => (i % 3 === 2 ? ['dominfo', '--domain', `missing-${i}`] : ['domstate', '--reason', '--domain', TEST_UUID]));
    expect(commands.map((c) => c.join(' ')).join('; ').length).toBeGreaterThan(SESSION_LINE_LIMIT / 2);
    const long = await v.batch(commands);
    expect(v.sessions?.members).toHaveLength(0);
    const short = await v.batch(commands.slice(0, 6));
    expect(v.sessions?.members).toHaveLength(1);
    for (const [i, o] of long.entries()) {
      if (i % 3 === 2) expect(o).toMatchObject({ ok: false, error: { kind: 'NotFound', message: expect.stringContaining(`'missing-${i}'`) } });
      else expect(o).toEqual({ ok: true, stdout: 'running (unknown)\n' });
    }
    expect(long.slice(0, 6)).toEqual(short);
  });

  it('without sessions, runs a batch as one framed process and reports a refused line as an error', async () => {
    const v = new Virsh('test:///default', 'virsh', { sessions: 0 });
    expect(v.sessions).toBeUndefined();
    const outcomes = await v.batch([['destroy', '--domain', TEST_UUID], ['domstate', '--domain', TEST_UUID], ['dominfo', '--domain', 'nope']]);
    // One process, one connection: the destroy is visible to the next command.
    expect(outcomes.slice(0, 2)).toEqual([{ ok: true, stdout: '' }, { ok: true, stdout: 'shut off\n' }]);
    expect(outcomes[2]).toMatchObject({ ok: false, error: { kind: 'NotFound' } });
    await expect(v.batch([['domstate', '--bogus', TEST_UUID]])).rejects.toMatchObject({ message: expect.stringContaining("doesn't support option --bogus") });
  });
});
