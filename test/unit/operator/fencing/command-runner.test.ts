import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandFenceRunner, fenceStdin } from '../../../../src/operator/fencing/index.js';

/**
 * A real program speaking the fence-agents protocol: reads name=value lines
 * on stdin, keeps the power state in a file, exits 0 / 2 (status off) / 1.
 */
const FENCE_FAKE = `#!${process.execPath}
const fs = require('fs');
const dir = ${'__DIR__'};
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  fs.writeFileSync(dir + '/last-stdin', input);
  fs.appendFileSync(dir + '/argv', JSON.stringify(process.argv.slice(2)) + '\\n');
  const opts = Object.fromEntries(input.trim().split('\\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const state = dir + '/power';
  if (opts.password !== 'secret') { console.error('Failed: Unable to obtain correct plug status or plug is not available (bad password ' + opts.password + ')'); process.exit(1); }
  switch (opts.action) {
    case 'status': process.exit(fs.existsSync(state) && fs.readFileSync(state, 'utf8') === 'off' ? 2 : 0);
    case 'off': fs.writeFileSync(state, 'off'); console.log('Success: Powered OFF'); process.exit(0);
    case 'on': fs.writeFileSync(state, 'on'); console.log('Success: Powered ON'); process.exit(0);
    case 'hang': setTimeout(() => {}, 100000); break;
    default: console.error('unknown action ' + opts.action); process.exit(1);
  }
});
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-fence-'));
  await writeFile(path.join(dir, 'fence_fake'), FENCE_FAKE.replace('__DIR__', JSON.stringify(dir)));
  await chmod(path.join(dir, 'fence_fake'), 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fenceStdin', () => {
  it('writes the fence-agents name=value lines, user options sorted after Drover\'s', () => {
    expect(fenceStdin({ host: 'h1', agent: 'ipmilan', action: 'off', address: '10.0.0.5', port: 623, username: 'admin', password: 'pw', options: { lanplus: '1', cipher: '3' } })).toBe(
      'action=off\nip=10.0.0.5\nipport=623\nusername=admin\npassword=pw\ncipher=3\nlanplus=1\n',
    );
  });

  it('refuses values that would break the line protocol and options Drover sets itself', () => {
    expect(() => fenceStdin({ host: 'h1', agent: 'ipmilan', action: 'off', password: 'a\naction=on' })).toThrow(/line breaks/);
    expect(() => fenceStdin({ host: 'h1', agent: 'ipmilan', action: 'off', options: { action: 'on' } })).toThrow(/set by Drover/);
    expect(() => fenceStdin({ host: 'h1', agent: 'ipmilan', action: 'off', options: { 'Bad Name': 'x' } })).toThrow(/not allowed/);
  });
});

describe('CommandFenceRunner', () => {
  const base = { host: 'h1', agent: 'fake', address: '10.0.0.5', username: 'admin', password: 'secret' } as const;

  it('runs fence_<agent> from the search path with options on stdin only, and reads status exit codes', async () => {
    const runner = new CommandFenceRunner({ searchPath: ['/nonexistent', dir] });
    expect(await runner.run({ ...base, action: 'status' })).toMatchObject({ ok: true, power: 'on' });
    expect(await runner.run({ ...base, action: 'off' })).toMatchObject({ ok: true, message: 'Success: Powered OFF' });
    expect(await runner.run({ ...base, action: 'status' })).toMatchObject({ ok: true, power: 'off' });
    expect(await runner.run({ ...base, action: 'on' })).toMatchObject({ ok: true });
    expect(await runner.run({ ...base, action: 'status' })).toMatchObject({ ok: true, power: 'on' });
    // The password travelled on stdin, never in argv.
    expect(await readFile(path.join(dir, 'last-stdin'), 'utf8')).toContain('password=secret');
    expect(await readFile(path.join(dir, 'argv'), 'utf8')).not.toContain('secret');
  });

  it('reports a failing agent with its output, the password redacted', async () => {
    const runner = new CommandFenceRunner({ searchPath: [dir] });
    const r = await runner.run({ ...base, password: 'wrong-pw', action: 'off' });
    expect(r.ok).toBe(false);
    expect(r.message).toContain('exit 1');
    expect(r.message).toContain('bad password ***');
    expect(r.message).not.toContain('wrong-pw');
  });

  it('kills an agent that hangs past the timeout', async () => {
    const runner = new CommandFenceRunner({ searchPath: [dir], timeoutMs: 300 });
    const r = await runner.run({ ...base, action: 'hang' as never });
    expect(r).toMatchObject({ ok: false });
    expect(r.message).toContain('killed');
  });

  it('says what to install when fence_<agent> is missing, and refuses the test bed agent unless enabled', async () => {
    const runner = new CommandFenceRunner({ searchPath: [dir] });
    expect(await runner.run({ ...base, agent: 'ipmilan', action: 'status' })).toMatchObject({ ok: false, message: expect.stringContaining('fence-agents') });
    expect(await runner.run({ ...base, agent: 'testbed', action: 'status' })).toMatchObject({ ok: false, message: expect.stringContaining('not enabled') });
    expect(runner.supports('testbed', 'restart-agent')).toBe(false);
    expect(new CommandFenceRunner({ testbed: { stateDir: dir } }).supports('testbed', 'restart-agent')).toBe(true);
    expect(runner.supports('ipmilan', 'restart-agent')).toBe(false);
  });

  it('runs the test bed agent with the plug and state dir on stdin', async () => {
    const runner = new CommandFenceRunner({ testbed: { stateDir: '/srv/tb', argv: [path.join(dir, 'fence_fake')] } });
    await runner.run({ host: 'tb-2', agent: 'testbed', action: 'on', password: 'secret' });
    const stdin = await readFile(path.join(dir, 'last-stdin'), 'utf8');
    expect(stdin).toContain('state_dir=/srv/tb\n');
    expect(stdin).toContain('plug=tb-2\n');
  });
});

describe('the test bed plug', () => {
  it('comes from spec.powerManagement.options.plug when given (an outlet, or the test host behind a Host)', async () => {
    const runner = new CommandFenceRunner({ testbed: { stateDir: '/srv/tb', argv: [path.join(dir, 'fence_fake')] } });
    await runner.run({ host: 'host-1', agent: 'testbed', action: 'on', password: 'secret', options: { plug: 'ha-1' } });
    const stdin = await readFile(path.join(dir, 'last-stdin'), 'utf8');
    expect(stdin).toContain('plug=ha-1\n');
    expect(stdin).not.toContain('plug=host-1');
  });
});
