/**
 * The shared hosted-engine metadata on a directory: configuration, one file
 * per node, the maintenance switches; torn, corrupt, foreign or misnamed
 * files are skipped without hiding the others.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HostedEngineStore, type NodeRecord } from '../../../src/agent/hosted-engine/metadata.js';
import type { HostedEngineConfig } from '../../../src/agent/hosted-engine/config.js';
import { DEFAULT_TIMINGS } from '../../../src/agent/hosted-engine/timings.js';
import { nodeRecord } from './support/hosted-engine.js';

let dir: string;
let store: HostedEngineStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-he-meta-'));
  store = new HostedEngineStore(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sampleConfig(over: Partial<HostedEngineConfig> = {}): HostedEngineConfig {
  return {
    format: 1,
    version: 1,
    vm: { uuid: '0b0b0b0b-0000-4000-8000-000000000001', cores: 1, memoryMiB: 128, kernel: 'images/vmlinuz', initrd: 'images/initrd.img', cmdline: 'console=ttyS0', bridge: 'br0', mac: '52:54:00:00:00:01', acceleration: 'tcg' },
    healthURL: 'http://10.0.0.50/healthz',
    gateway: '10.0.0.1',
    migrationTransport: 'tcp',
    timings: DEFAULT_TIMINGS,
    deployedBy: 'node-1',
    deployedAt: '2026-11-26T06:00:00.000Z',
    ...over,
  };
}

const record = nodeRecord;

describe('HostedEngineStore', () => {
  it('writes and reads the configuration; a missing one says NotDeployed', async () => {
    expect(await store.readConfig()).toMatchObject({ ok: false, reason: 'NotDeployed' });
    await store.writeConfig(sampleConfig());
    expect(await store.readConfig()).toEqual({ ok: true, config: sampleConfig() });
    expect(await readdir(path.join(dir, 'hosted-engine'))).toEqual(expect.arrayContaining(['config.json', 'nodes', 'maintenance', 'images']));
  });

  it('refuses to write an invalid configuration, and reads a corrupt one as Invalid', async () => {
    await expect(store.writeConfig(sampleConfig({ gateway: 'not-an-ip' }))).rejects.toThrow();
    await mkdir(store.root, { recursive: true });
    await writeFile(store.file('config.json'), '{"format":1,"version":');
    expect(await store.readConfig()).toMatchObject({ ok: false, reason: 'Invalid' });
    await writeFile(store.file('config.json'), JSON.stringify({ ...sampleConfig(), vm: { ...sampleConfig().vm, kernel: '../../etc/passwd' } }));
    expect(await store.readConfig()).toMatchObject({ ok: false, reason: 'Invalid', message: expect.stringContaining('vm.kernel') });
  });

  it('says Unsupported for a newer format, so an old agent knows it is stale', async () => {
    await mkdir(store.root, { recursive: true });
    await writeFile(store.file('config.json'), JSON.stringify({ ...sampleConfig(), format: 2 }));
    expect(await store.readConfig()).toMatchObject({ ok: false, reason: 'Unsupported' });
  });

  it('writes one file per node and reads them all back, sorted by name', async () => {
    await store.writeNode(record('node-2', { score: 2000 }));
    await store.writeNode(record('node-1'));
    await store.writeNode(record('node-1', { seq: 2, state: 'EngineUp' }));
    expect(await store.readNodes()).toEqual([record('node-1', { seq: 2, state: 'EngineUp' }), record('node-2', { score: 2000 })]);
    // No temporary files are left behind by the atomic writes.
    expect((await readdir(store.file('nodes'))).sort()).toEqual(['node-1.json', 'node-2.json']);
  });

  it('skips torn, corrupt, oversized, misnamed and temporary files without hiding the good ones', async () => {
    await store.writeNode(record('node-1'));
    const nodes = store.file('nodes');
    await writeFile(path.join(nodes, 'node-2.json'), JSON.stringify(record('node-2')).slice(0, 40)); // cut short by a dying writer
    await writeFile(path.join(nodes, 'node-3.json'), JSON.stringify({ ...record('node-3'), score: 'high' }));
    await writeFile(path.join(nodes, 'node-4.json'), JSON.stringify(record('node-5'))); // names another node
    await writeFile(path.join(nodes, '.node-6.json.abc.tmp'), JSON.stringify(record('node-6')));
    await writeFile(path.join(nodes, 'node-7.json'), 'x'.repeat(100_000));
    await writeFile(path.join(nodes, 'Not_A_Name.json'), JSON.stringify(record('node-8')));
    await mkdir(path.join(nodes, 'node-9.json'));
    expect((await store.readNodes()).map((r) => r.name)).toEqual(['node-1']);
  });

  it('reads no nodes before anything was written', async () => {
    expect(await store.readNodes()).toEqual([]);
  });

  it('refuses node names that could escape the directory', async () => {
    await expect(store.writeNode(record('../evil'))).rejects.toThrow();
    await expect(store.writeLocalMaintenance('../evil', true)).rejects.toThrow(/cannot name/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps the maintenance switches: off until set, then what was set', async () => {
    expect(await store.readGlobalMaintenance()).toBe(false);
    expect(await store.readLocalMaintenance('node-1')).toBe(false);
    await store.writeGlobalMaintenance(true, 'cli@node-1');
    await store.writeLocalMaintenance('node-1', true);
    expect(await store.readGlobalMaintenance()).toBe(true);
    expect(await store.readLocalMaintenance('node-1')).toBe(true);
    expect(await store.readLocalMaintenance('node-2')).toBe(false);
    expect(JSON.parse(await readFile(store.file('global-maintenance.json'), 'utf8'))).toMatchObject({ enabled: true, setBy: 'cli@node-1' });
    await store.writeGlobalMaintenance(false, 'cli@node-1');
    expect(await store.readGlobalMaintenance()).toBe(false);
  });

  it('reads a corrupt switch as unknown (undefined), so the caller keeps what it knew', async () => {
    await store.prepare();
    await writeFile(store.file('global-maintenance.json'), '{"enab');
    expect(await store.readGlobalMaintenance()).toBeUndefined();
  });
});
