/**
 * The HA parts of the agent API over fakes of libvirt and storage: lease
 * capabilities, the whole-VM lease in the defined XML, `leaseProtected` in
 * VM answers (from a lock table the test writes), the heartbeats endpoint
 * and its client method, and bad input answered 4xx with nothing written.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { splitDev } from '../../../../src/agent/leases/index.js';
import { startAgent, type Harness } from '../support/harness.js';
import { UID, seedStorage, vmSpec } from '../support/specs.js';

let dir: string;
let h: Harness | undefined;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-ha-api-'));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function lockTableFor(file: string): Promise<string> {
  const st = await stat(file, { bigint: true });
  const { major, minor } = splitDev(st.dev);
  return `1: POSIX  ADVISORY  WRITE 4242 ${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino} 0 0\n`;
}

describe('leases through the agent API', () => {
  it('reports lockd and its lockspace, defines the VM with its own lease, and says when the running VM holds it', async () => {
    const lockspace = path.join(dir, 'shared', 'lockspace');
    await mkdir(lockspace, { recursive: true });
    const locks = path.join(dir, 'locks');
    await writeFile(locks, '');
    h = await startAgent({ leases: { manager: 'lockd', lockspace, autoDiskLeases: true }, procLocksPath: locks });
    seedStorage(h.storage);
    const client = h.client();

    expect((await client.capabilities()).leases).toEqual({ manager: 'lockd', lockspace });

    const defined = await client.defineVm(UID, vmSpec());
    expect(defined.leaseProtected).toBe(false);
    const xml = h.driver.domains.get(UID)!.xml;
    expect(xml).toContain(`<key>${UID}</key>`);
    expect(xml).toContain(`<target path="${path.join(dir, 'shared')}"/>`);
    expect(await readdir(lockspace)).toEqual([UID]);

    const started = await client.startVm(UID);
    expect(started.state).toBe('running');
    expect(started.leaseProtected).toBe(false); // nothing locked in the table yet

    await writeFile(locks, await lockTableFor(path.join(lockspace, UID)));
    expect((await client.getVm(UID)).leaseProtected).toBe(true);
    expect((await client.listVms()).items.find((v) => v.uid === UID)?.leaseProtected).toBe(true);
    expect((await client.pauseVm(UID)).leaseProtected).toBe(false);
  });

  it('without a lock manager: capabilities say none, no lease in the XML, never protected', async () => {
    h = await startAgent();
    seedStorage(h.storage);
    const client = h.client();
    expect((await client.capabilities()).leases).toEqual({ manager: 'none' });
    await client.defineVm(UID, vmSpec());
    expect(h.driver.domains.get(UID)!.xml).not.toContain('<lease>');
    expect((await client.startVm(UID)).leaseProtected).toBe(false);
  });
});

describe('GET /v1/storage/domains/{name}/heartbeats', () => {
  it("serves this host's heartbeat (and the others') with small ages, through AgentClient.storageHeartbeats", async () => {
    h = await startAgent({ storageHeartbeat: { host: 'host-a', intervalMs: 50 } });
    const root = path.join(dir, 'data');
    await mkdir(path.join(root, '.drover', 'heartbeats'), { recursive: true });
    await writeFile(
      path.join(root, '.drover', 'heartbeats', 'host-b.json'),
      JSON.stringify({ host: 'host-b', bootId: 'other', seq: 41, writtenAt: '2020-01-01T00:00:00Z' }),
    );
    await h.storage.connect('data', { type: 'PosixFS', path: root });
    const client = h.client();
    let items: Awaited<ReturnType<typeof client.storageHeartbeats>>['items'] = [];
    for (let i = 0; i < 100 && !items.some((x) => x.host === 'host-a' && x.seq >= 2); i++) {
      await new Promise((r) => setTimeout(r, 50));
      items = (await client.storageHeartbeats('data')).items;
    }
    const mine = items.find((x) => x.host === 'host-a');
    expect(mine).toMatchObject({ bootId: 'boot1' });
    expect(mine!.seq).toBeGreaterThanOrEqual(2);
    expect(mine!.ageSeconds).toBeLessThan(1);
    expect(items.find((x) => x.host === 'host-b')).toMatchObject({ bootId: 'other', seq: 41 });
    const status = await client.getStorageDomain('data');
    expect(status.heartbeat).toMatchObject({ ok: true });
    expect(status.health?.ok).toBe(true);
  });

  it('answers 400 for a bad name and 404 for a domain not connected, writing nothing', async () => {
    h = await startAgent({ storageHeartbeat: { host: 'host-a', intervalMs: 50 } });
    const bad = await h.call('GET', '/v1/storage/domains/..%2Fetc/heartbeats');
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('name');
    const missing = await h.call('GET', '/v1/storage/domains/nope/heartbeats');
    expect(missing.status).toBe(404);
    expect(missing.body.error.reason).toBe('NotFound');
    expect(h.storage.mutatingCalls()).toEqual([]);
  });
});
