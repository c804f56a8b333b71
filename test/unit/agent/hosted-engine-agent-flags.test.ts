/**
 * `drover agent --hosted-engine`: the role's flags are checked before it
 * starts (a relative or missing directory, a node name that cannot name a
 * metadata file), and the node is named as the Host is (--host-name, else
 * the certificate's CN).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { hostedEngineNodeName, startHostedEngineRole, type HostedEngineFlags } from '../../../src/cli/agent-hosted-engine.js';

const log = pino({ level: 'silent' });
const leases = { manager: 'none' as const, autoDiskLeases: false };
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-he-flags-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flags = (over: Partial<HostedEngineFlags>): HostedEngineFlags => ({
  listen: '10.0.0.11:54321',
  'libvirt-uri': 'qemu:///system',
  acceleration: 'tcg',
  'state-dir': path.join(dir, 'state'),
  'host-name': 'node-1',
  ...over,
});

describe('drover agent --hosted-engine', () => {
  it('starts nothing without the flag', async () => {
    expect(await startHostedEngineRole(flags({}), leases, log)).toBeUndefined();
  });

  it('refuses a relative directory, a missing one, and a node name that cannot name a file', async () => {
    expect(await startHostedEngineRole(flags({ 'hosted-engine': 'he' }), leases, log)).toEqual({ error: expect.stringContaining('absolute path') });
    expect(await startHostedEngineRole(flags({ 'hosted-engine': path.join(dir, 'missing') }), leases, log)).toEqual({ error: expect.stringContaining('is not a directory') });
    expect(await startHostedEngineRole(flags({ 'hosted-engine': dir, 'host-name': 'node_1!' }), leases, log)).toEqual({ error: expect.stringContaining('not a lower-case DNS name') });
    expect(await startHostedEngineRole(flags({ 'hosted-engine': dir, 'hosted-engine-address': 'a b' }), leases, log)).toEqual({ error: expect.stringContaining('--hosted-engine-address') });
  });

  it('names the node by --host-name first, lower-cased', () => {
    expect(hostedEngineNodeName({ 'host-name': 'Node-7' })).toBe('node-7');
  });
});
