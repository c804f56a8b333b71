/**
 * Storage heartbeats with real files in a temporary directory: the file
 * format and its atomic replacement, reader-side ages on an injected
 * monotonic clock, and a failing write showing in storage status.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  HEARTBEAT_DIR,
  HeartbeatReportingStorage,
  HeartbeatTracker,
  StorageHeartbeats,
  readHeartbeats,
  writeHeartbeat,
} from '../../../../src/agent/heartbeat/index.js';
import type { DomainRoot, DomainStatus } from '../../../../src/agent/storage/types.js';
import { FakeStorage } from '../support/fakes.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-heartbeat-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('heartbeat files', () => {
  it('are written as <root>/.drover/heartbeats/<host>.json and read back, leaving no temporary files', async () => {
    await writeHeartbeat(dir, { host: 'host-1', bootId: 'b1', seq: 1, writtenAt: '2026-11-26T04:00:00.000Z' });
    await writeHeartbeat(dir, { host: 'host-1', bootId: 'b1', seq: 2, writtenAt: '2026-11-26T04:00:01.000Z' });
    await writeHeartbeat(dir, { host: 'host-2', bootId: 'b2', seq: 7, writtenAt: '2026-11-26T04:00:01.500Z' });
    expect((await readdir(path.join(dir, HEARTBEAT_DIR))).sort()).toEqual(['host-1.json', 'host-2.json']);
    expect(JSON.parse(await readFile(path.join(dir, HEARTBEAT_DIR, 'host-1.json'), 'utf8'))).toEqual({
      host: 'host-1',
      bootId: 'b1',
      seq: 2,
      writtenAt: '2026-11-26T04:00:01.000Z',
    });
    expect((await readHeartbeats(dir)).map((r) => [r.host, r.seq])).toEqual([['host-1', 2], ['host-2', 7]]);
  });

  it('skips garbage, temporary files and files whose name disagrees with the host inside', async () => {
    await writeHeartbeat(dir, { host: 'good', bootId: 'b', seq: 1, writtenAt: 'now' });
    const hb = path.join(dir, HEARTBEAT_DIR);
    await writeFile(path.join(hb, 'broken.json'), '{not json');
    await writeFile(path.join(hb, 'liar.json'), JSON.stringify({ host: 'good', bootId: 'x', seq: 99, writtenAt: 'now' }));
    await writeFile(path.join(hb, '.good.json.abc.tmp'), JSON.stringify({ host: 'good', bootId: 'x', seq: 98, writtenAt: 'now' }));
    await writeFile(path.join(hb, 'negative.json'), JSON.stringify({ host: 'negative', bootId: 'x', seq: -1, writtenAt: 'now' }));
    expect(await readHeartbeats(dir)).toEqual([{ host: 'good', bootId: 'b', seq: 1, writtenAt: 'now' }]);
  });

  it('reads none before anyone wrote, and refuses host names that are not file names', async () => {
    expect(await readHeartbeats(dir)).toEqual([]);
    await expect(writeHeartbeat(dir, { host: '../evil', bootId: 'b', seq: 1, writtenAt: 'now' })).rejects.toThrow(/cannot name/);
  });

  it('does not follow a .drover symlink planted to lead out of the domain', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'drover-outside-'));
    try {
      await symlink(outside, path.join(dir, '.drover'));
      await expect(writeHeartbeat(dir, { host: 'h', bootId: 'b', seq: 1, writtenAt: 'now' })).rejects.toThrow(/outside/);
      expect(await readdir(outside)).toEqual(['heartbeats']); // mkdir -p went through; no heartbeat file did
      expect(await readdir(path.join(outside, 'heartbeats'))).toEqual([]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('HeartbeatTracker (ages on the reader\'s monotonic clock)', () => {
  it('counts from when the current (bootId, seq) was first seen, whatever writtenAt says', () => {
    let now = 1000;
    const t = new HeartbeatTracker(() => now);
    // A writer whose wall clock is a year behind: its writtenAt must not matter.
    const r = (seq: number, bootId = 'b1') => ({ host: 'h1', bootId, seq, writtenAt: '2025-01-01T00:00:00Z' });
    expect(t.observe('d', [r(5)])[0]!.ageSeconds).toBe(0);
    now = 3500;
    expect(t.observe('d', [r(5)])[0]!.ageSeconds).toBe(2.5);
    expect(t.observe('d', [r(6)])[0]!.ageSeconds).toBe(0);
    now = 4000;
    expect(t.observe('d', [r(6)])[0]!.ageSeconds).toBe(0.5);
    // A restarted writer starts over at seq 1 with a new bootId: that is a change too.
    expect(t.observe('d', [r(6, 'b2')])[0]!.ageSeconds).toBe(0);
  });

  it('keeps domains apart and forgets hosts whose file is gone', () => {
    let now = 0;
    const t = new HeartbeatTracker(() => now);
    t.observe('a', [{ host: 'h1', bootId: 'b', seq: 1, writtenAt: 'x' }]);
    now = 10_000;
    expect(t.observe('b', [{ host: 'h1', bootId: 'b', seq: 1, writtenAt: 'x' }])[0]!.ageSeconds).toBe(0);
    expect(t.observe('a', [])).toEqual([]);
    expect(t.observe('a', [{ host: 'h1', bootId: 'b', seq: 1, writtenAt: 'x' }])[0]!.ageSeconds).toBe(0);
  });
});

/** Storage roots under the temp dir, for the heartbeat service. */
function rootsOf(entries: DomainRoot[]): { roots: () => Promise<DomainRoot[]> } {
  return { roots: async () => entries };
}

describe('StorageHeartbeats', () => {
  it('writes an increasing seq on every connected domain and reads every host with its age', async () => {
    let now = 0;
    const roots = [{ name: 'data', root: dir, attached: true }];
    const h1 = new StorageHeartbeats({ storage: rootsOf(roots), host: 'h1', bootId: 'boot-1', intervalMs: 1000, logger: log, now: () => now });
    const h2 = new StorageHeartbeats({ storage: rootsOf(roots), host: 'h2', bootId: 'boot-2', intervalMs: 1000, logger: log, now: () => now });
    await h1.tick();
    await h2.tick();
    await h1.tick();
    expect(h1.ownState('data')).toMatchObject({ ok: true, seq: 2 });
    now = 4000; // h2 stopped writing four seconds ago; h1 reads again
    const seen = await h1.heartbeats('data');
    expect(seen.map((s) => [s.host, s.bootId, s.seq])).toEqual([['h1', 'boot-1', 2], ['h2', 'boot-2', 1]]);
    expect(seen.find((s) => s.host === 'h2')!.ageSeconds).toBe(4);
    await h2.tick();
    expect((await h1.heartbeats('data')).find((s) => s.host === 'h2')!.ageSeconds).toBe(0);
  });

  it('answers 404 for a domain not connected here and 503 when its storage is gone', async () => {
    const hb = new StorageHeartbeats({
      storage: rootsOf([{ name: 'gone', root: path.join(dir, 'x'), attached: false }]),
      host: 'h1', bootId: 'b', intervalMs: 1000, logger: log,
    });
    await expect(hb.heartbeats('other')).rejects.toMatchObject({ status: 404, reason: 'NotFound' });
    await expect(hb.heartbeats('gone')).rejects.toMatchObject({ status: 503, reason: 'Unavailable' });
  });

  it('shows a failed write in the storage status (health.ok false with the error), and recovers', async () => {
    const root = path.join(dir, 'domain');
    await mkdir(root);
    const changes: number[] = [];
    const storage = new FakeStorage();
    storage.seed('data');
    const hb = new StorageHeartbeats({
      storage: rootsOf([{ name: 'data', root, attached: true }]),
      host: 'h1', bootId: 'b', intervalMs: 1000, logger: log, onChange: () => changes.push(1),
    });
    const reporting = new HeartbeatReportingStorage(storage, hb);
    await hb.tick();
    expect((await reporting.status('data')).heartbeat).toMatchObject({ ok: true, seq: 1 });
    expect((await reporting.status('data')).health?.ok).toBe(true);

    // The storage goes away under the agent: its root is no longer a directory.
    await rm(root, { recursive: true });
    await writeFile(root, 'not a directory');
    await hb.tick();
    const broken: DomainStatus = await reporting.status('data');
    expect(broken.connected).toBe(true);
    expect(broken.health).toMatchObject({ ok: false });
    expect(broken.health?.error).toMatch(/^storage heartbeat failed: /);
    expect(broken.heartbeat).toMatchObject({ ok: false, seq: 1 });
    expect((await reporting.list()).find((d) => d.name === 'data')?.health?.ok).toBe(false);

    await rm(root);
    await mkdir(root);
    await hb.tick();
    expect((await reporting.status('data')).health?.ok).toBe(true);
    expect((await reporting.status('data')).heartbeat).toMatchObject({ ok: true, seq: 3 });
    expect(changes.length).toBe(3); // first success, failure, recovery
  });

  it('marks a domain whose storage is not attached as failing without writing under its mount point', async () => {
    const root = path.join(dir, 'mnt');
    await mkdir(root);
    const hb = new StorageHeartbeats({ storage: rootsOf([{ name: 'nfs', root, attached: false }]), host: 'h1', bootId: 'b', intervalMs: 1000, logger: log });
    await hb.tick();
    expect(hb.ownState('nfs')).toMatchObject({ ok: false, error: expect.stringMatching(/not reachable/) });
    expect(await readdir(root)).toEqual([]);
  });

  it('counts a write that hangs (a dead NFS server) as failed, and does not pile up writes behind it', async () => {
    let writes = 0;
    const hang = { write: async () => { writes++; await new Promise<void>(() => {}); }, read: readHeartbeats };
    const hb = new StorageHeartbeats({
      storage: rootsOf([{ name: 'slow', root: dir, attached: true }]),
      host: 'h1', bootId: 'b', intervalMs: 1000, ioTimeoutMs: 20, logger: log, io: hang,
    });
    await hb.tick();
    expect(hb.ownState('slow')).toMatchObject({ ok: false, error: 'heartbeat write took longer than 20 ms' });
    await hb.tick();
    expect(hb.ownState('slow')).toMatchObject({ ok: false, error: expect.stringMatching(/has not finished/) });
    expect(writes).toBe(1);
  });
});
