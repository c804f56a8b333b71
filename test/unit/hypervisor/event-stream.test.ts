/**
 * The supervised `virsh event` child, with a stand-in virsh that prints
 * captured event lines: parsing, name resolution, restart after exit, and
 * stopping on abort.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import type { DomainEvent } from '../../../src/hypervisor/driver.js';
import { lifecycleEvents } from '../../../src/hypervisor/libvirt/event-stream.js';
import { Virsh } from '../../../src/hypervisor/libvirt/virsh.js';
import { fakeVirsh, type FakeVirsh } from './fake-virsh.js';
import { fixturePath } from './fixtures.js';

describe('lifecycleEvents', () => {
  let fake: FakeVirsh | undefined;
  afterEach(async () => {
    if (fake) await rm(fake.dir, { recursive: true, force: true });
    fake = undefined;
  });

  it('parses lines, resolves names to UUIDs, drops unknown domains, and restarts virsh when it exits', async () => {
    // Prints the captured events of a migration in and out again (5 lifecycle lines among others), then exits.
    fake = await fakeVirsh(`*) cat '${fixturePath('events-all-migration-dest.txt')}'; exit 1 ;;`);
    const ac = new AbortController();
    const warnings: string[] = [];
    let connects = 0;
    const got: DomainEvent[] = [];
    const resolveCalls: string[] = [];
    for await (const e of lifecycleEvents({
      virsh: new Virsh('test:///default', fake.binary),
      resolve: async (l) => {
        resolveCalls.push(l.event);
        return l.event === 'defined' ? undefined : 'uuid-vm2';
      },
      onConnect: () => connects++,
      signal: ac.signal,
      log: { warn: (_o, msg) => warnings.push(msg) },
      initialBackoffMs: 10,
    })) {
      got.push(e);
      if (got.length === 6) ac.abort();
    }
    // The "defined" line is dropped (unresolvable); the second pair comes from the restarted child.
    expect(got.slice(0, 6).map((e) => `${e.uuid} ${e.event}/${e.detail}`)).toEqual([
      'uuid-vm2 started/migrated',
      'uuid-vm2 resumed/migrated',
      'uuid-vm2 suspended/migrated',
      'uuid-vm2 stopped/migrated',
      'uuid-vm2 started/migrated',
      'uuid-vm2 resumed/migrated',
    ]);
    expect(got[0]).toMatchObject({ name: 'vm2', time: '2026-11-25T22:50:12.928Z' });
    expect(connects).toBeGreaterThanOrEqual(2);
    expect(warnings).toContain('virsh event exited; restarting');
    expect(warnings).toContain('dropping lifecycle event of a domain whose UUID is unknown');
    expect(resolveCalls.slice(0, 3)).toEqual(['started', 'defined', 'resumed']);
    // The child really was asked for lifecycle events with keepalive on.
    expect((await readFile(fake.log, 'utf8')).split('\n')[0]).toBe('-k 5 -K 3 -q -c test:///default event --event lifecycle --loop --timestamp');
  });

  it('stops the child and ends iteration when the signal aborts', async () => {
    fake = await fakeVirsh(`*) echo $$ > "$DIR/pid"; exec sleep 30 ;;`);
    const ac = new AbortController();
    const iterating = (async () => {
      const seen: DomainEvent[] = [];
      for await (const e of lifecycleEvents({ virsh: new Virsh('test:///default', fake!.binary), resolve: async () => 'u', signal: ac.signal })) seen.push(e);
      return seen;
    })();
    const pidFile = `${fake.dir}/pid`;
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(await readFile(pidFile, 'utf8'));
    const t0 = Date.now();
    ac.abort();
    expect(await iterating).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('stops the child when the consumer breaks out of the loop', async () => {
    fake = await fakeVirsh(`*) echo $$ > "$DIR/pid"; cat '${fixturePath('events-lifecycle.txt')}'; exec sleep 30 ;;`);
    const ac = new AbortController();
    for await (const e of lifecycleEvents({ virsh: new Virsh('test:///default', fake.binary), resolve: async () => 'u', signal: ac.signal })) {
      expect(e.event).toBe('resumed');
      break;
    }
    const pid = Number(await readFile(`${fake.dir}/pid`, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
