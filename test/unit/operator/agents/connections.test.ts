/**
 * The agent connection manager against real agent servers (mutual TLS on
 * 127.0.0.1 over the fake hypervisor and storage). Intervals are short
 * (50 ms heartbeats); waits are generous and only bound a test that would
 * otherwise hang.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { DriverError } from '../../../../src/hypervisor/driver.js';
import { FakeDriver, FakeStorage } from '../../agent/support/fakes.js';
import { FOREIGN_UID, UID, UID2, seedStorage, vmSpec } from '../../agent/support/specs.js';
import type { HostLink, HostTarget } from '../../../../src/operator/agents/index.js';
import { foreignServerCert, sleep, startTestAgent, testManager, testPki, waitFor, type TestAgent, type TestManager } from './support.js';

const KEY = 'dc1/host-a';
const HEARTBEAT_MS = 50;

function target(port: number, overrides: Partial<HostTarget> = {}): HostTarget {
  return { namespace: 'dc1', name: 'host-a', address: '127.0.0.1', port, heartbeatIntervalMs: HEARTBEAT_MS, ...overrides };
}

const agents: TestAgent[] = [];
let m: TestManager | undefined;

async function agent(options: Parameters<typeof startTestAgent>[0] = {}): Promise<TestAgent> {
  const a = await startTestAgent(options);
  agents.push(a);
  return a;
}

async function manager(options: Parameters<typeof testManager>[0] = {}): Promise<TestManager> {
  m = await testManager(options);
  return m;
}

function link(t: TestManager, key = KEY): HostLink {
  const l = t.manager.link(key);
  if (l === undefined) throw new Error(`no link ${key}`);
  return l;
}

/** Connected, with the first full relist done and the boot id learned from the stream. */
async function connected(t: TestManager, key = KEY): Promise<HostLink> {
  await waitFor('the link to connect and sync', () => {
    const l = t.manager.link(key);
    return l?.state === 'Connected' && l.capabilities !== undefined && l.storage !== undefined && l.vms !== undefined && l.bootId !== undefined;
  });
  return link(t, key);
}

afterEach(async () => {
  await m?.manager.close();
  m = undefined;
  for (const a of agents.splice(0)) await a.close().catch(() => undefined);
});

describe('AgentConnectionManager', () => {
  it('goes from Connecting to Connected with capabilities, stats, storage, domains and the boot id', async () => {
    const storage = new FakeStorage();
    seedStorage(storage);
    const driver = new FakeDriver();
    driver.addForeign(FOREIGN_UID, 'stray', 'running');
    const a = await agent({ storage, driver, version: '0.3.1' });
    const t = await manager();

    t.manager.ensure(target(a.port));
    expect(link(t).state).toBe('Connecting');
    expect(t.manager.link('dc1/other')).toBeUndefined();

    const l = await connected(t);
    expect(l.capabilities).toMatchObject({ hostUUID: driver.caps.hostUUID, agentVersion: '0.3.1', hypervisorType: 'kvm' });
    expect(l.stats?.memory.totalBytes).toBe(16_384_000 * 1024);
    expect(l.stats?.runningVMs).toBe(1);
    expect(l.storage?.map((s) => [s.name, s.connected])).toEqual([['data', true]]);
    expect(l.vms?.map((v) => [v.uid, v.owned])).toEqual([[FOREIGN_UID, false]]);
    // Learned from the stream, which the link opens asking for a replay it cannot get.
    expect(l.bootId).toBe('boot1');
    expect(l.lastHeartbeat).toBeInstanceOf(Date);
    expect(l.failingSince).toBeUndefined();
    expect(l.lastError).toBeUndefined();
    expect(t.manager.client(KEY)).toBeDefined();
    expect(t.changesOf('host').length).toBeGreaterThan(0);
    expect(a.count('/v1/host/capabilities')).toBeGreaterThanOrEqual(1);
  });

  it('reports a stopped agent as Unreachable naming the address, and reconnects when it is back', async () => {
    const first = await agent();
    const port = first.port;
    const t = await manager();
    t.manager.ensure(target(port));
    await connected(t);
    const capsBefore = t.callCount('capabilities');

    const stoppedAt = Date.now();
    await first.close();
    await waitFor('Unreachable', () => link(t).state === 'Unreachable');
    const down = link(t);
    expect(down.lastError).toContain(`127.0.0.1:${port}`);
    expect(down.lastError).toMatch(/refused the connection/);
    expect(down.failingSince).toBeInstanceOf(Date);
    expect(down.failingSince?.getTime()).toBeGreaterThanOrEqual(stoppedAt - 1000);
    // failingSince marks the first failure and stays put while the link keeps failing.
    await sleep(HEARTBEAT_MS * 4);
    expect(link(t).failingSince?.getTime()).toBe(down.failingSince?.getTime());

    await agent({ port, bootId: 'boot1' });
    await waitFor('Connected again', () => link(t).state === 'Connected');
    const up = link(t);
    expect(up.failingSince).toBeUndefined();
    expect(up.lastError).toBeUndefined();
    // A new connection reads the capabilities again.
    await waitFor('capabilities re-read', () => t.callCount('capabilities') > capsBefore);
  });

  it('reports an agent whose certificate comes from another CA as CertificateRejected', async () => {
    const a = await agent({ serverCert: await foreignServerCert() });
    const t = await manager();
    t.manager.ensure(target(a.port));
    await waitFor('CertificateRejected', () => link(t).state === 'CertificateRejected');
    const l = link(t);
    expect(l.lastError).toContain(`127.0.0.1:${a.port}`);
    expect(l.lastError).toMatch(/not signed by the Manager's CA/);
    expect(l.failingSince).toBeInstanceOf(Date);
    expect(l.capabilities).toBeUndefined();
    // The agent answered nothing: the handshake never completed.
    expect(a.requests).toEqual([]);
    // Nothing secret is logged.
    expect(t.logs.join('\n')).not.toMatch(/PRIVATE KEY/);
    expect(t.logs.join('\n')).toMatch(/agent link failing/);
  });

  it('is NoCredentials while the namespace has no client certificate, and connects once it has one', async () => {
    const a = await agent();
    const t = await manager();
    const tls = t.tls.current;
    t.tls.current = undefined;
    t.manager.ensure(target(a.port));
    await waitFor('NoCredentials', () => link(t).state === 'NoCredentials');
    expect(link(t).lastError).toMatch(/no client certificate for namespace dc1/);
    expect(t.manager.client(KEY)).toBeUndefined();
    expect(t.created).toHaveLength(0);
    expect(a.requests).toEqual([]);

    t.tls.current = tls;
    await connected(t);
    expect(t.manager.client(KEY)).toBeDefined();
  });

  it('reconnects when the TLS material changes, and only then', async () => {
    const a = await agent();
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);
    expect(t.created).toHaveLength(1);

    // Equal material in a new object (a rebuilt Secret view) is not a change.
    const pki = await testPki();
    t.tls.current = { cert: pki.client.cert, key: pki.client.key, ca: pki.ca };
    const beats = t.callCount('stats');
    await waitFor('a few heartbeats', () => t.callCount('stats') >= beats + 3);
    expect(t.created).toHaveLength(1);

    // Another CA (say, the Manager's CA was replaced): a new client, which does not trust this agent.
    t.tls.current = { cert: pki.client.cert, key: pki.client.key, ca: pki.foreignCa };
    await waitFor('CertificateRejected', () => link(t).state === 'CertificateRejected');
    expect(t.created).toHaveLength(2);
    expect(t.created[1]?.tls.ca).toBe(pki.foreignCa);
  });

  it('turns a lifecycle change on the host into a vm notification and an up-to-date link.vms', async () => {
    const storage = new FakeStorage();
    seedStorage(storage);
    const a = await agent({ storage });
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);

    const api = t.manager.client(KEY);
    if (api === undefined) throw new Error('no client');
    await api.defineVm(UID, vmSpec());
    await waitFor('the defined domain in link.vms', () => link(t).vms?.some((v) => v.uid === UID && v.state === 'shut off') === true, 1000);

    const before = t.changesOf('vm', UID).length;
    await a.driver.start(UID);
    await waitFor('running in link.vms', () => link(t).vms?.find((v) => v.uid === UID)?.state === 'running', 1000);
    expect(t.changesOf('vm', UID).length).toBeGreaterThan(before);
    expect(link(t).vms?.find((v) => v.uid === UID)).toMatchObject({ owned: true, owner: { namespace: 'default', name: 'web-1' } });

    await a.driver.destroy(UID);
    await waitFor('shut off in link.vms', () => link(t).vms?.find((v) => v.uid === UID)?.state === 'shut off', 1000);
    const beforeUndefine = t.changesOf('vm', UID).length;
    await a.driver.undefine(UID);
    await waitFor('gone from link.vms', () => link(t).vms?.some((v) => v.uid === UID) === false, 1000);
    expect(t.changesOf('vm', UID).length).toBeGreaterThan(beforeUndefine);
    // Single domains were read one by one, not by relisting everything.
    expect(t.callCount('getVm')).toBeGreaterThan(0);
  });

  it('refresh() relists at once and notifies exactly the domains that changed, disappeared ones included', async () => {
    const storage = new FakeStorage();
    seedStorage(storage);
    const driver = new FakeDriver();
    driver.addForeign(FOREIGN_UID, 'stray', 'running');
    driver.addForeign(UID2, 'other', 'running');
    const a = await agent({ storage, driver });
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);
    await sleep(HEARTBEAT_MS * 3);

    // Changed behind the agent's back: no event, so only a relist can see it.
    const stray = driver.domains.get(FOREIGN_UID);
    if (stray === undefined) throw new Error('no stray domain');
    stray.state = 'paused';
    driver.domains.delete(UID2);
    const mark = t.changes.length;
    await t.manager.refresh(KEY);

    const l = link(t);
    expect(l.vms?.map((v) => [v.uid, v.state])).toEqual([[FOREIGN_UID, 'paused']]);
    const vmChanges = t.changes.slice(mark).filter((c) => c.kind === 'vm');
    expect(vmChanges.map((c) => (c.kind === 'vm' ? c.uid : '')).sort()).toEqual([FOREIGN_UID, UID2].sort());
    // Storage did not change: no storage notification.
    expect(t.changes.slice(mark).filter((c) => c.kind === 'storage')).toEqual([]);
    await expect(t.manager.refresh('dc1/nobody')).resolves.toBeUndefined();
  });

  it('hears storage health changes as storage notifications', async () => {
    const storage = new FakeStorage();
    seedStorage(storage);
    const a = await agent({ storage });
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);
    expect(t.changesOf('storage', 'data').length).toBeGreaterThan(0);
    const before = t.changesOf('storage', 'data').length;

    await t.manager.client(KEY)?.disconnectStorageDomain('data');
    await waitFor('the disconnect in link.storage', () => link(t).storage?.find((s) => s.name === 'data')?.connected === false, 1000);
    await waitFor('a storage notification', () => t.changesOf('storage', 'data').length > before, 1000);
  });

  it('announces a finished migration and relists the domains it moved', async () => {
    const storage = new FakeStorage();
    seedStorage(storage);
    const a = await agent({ storage });
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);
    const api = t.manager.client(KEY);
    if (api === undefined) throw new Error('no client');
    await api.defineVm(UID, vmSpec());
    await api.startVm(UID);
    await waitFor('running in link.vms', () => link(t).vms?.find((v) => v.uid === UID)?.state === 'running', 1000);

    await api.migrateVm(UID, { destinationURI: 'qemu+tcp://10.0.0.12/system' });
    expect(t.changesOf('migration', UID)).toEqual([]);
    a.driver.pendingMigrations.get(UID)?.resolve();
    await waitFor('a migration notification', () => t.changesOf('migration', UID).length === 1, 1000);
    // Notified after the relist: a reader already sees the domain gone.
    expect(link(t).vms?.some((v) => v.uid === UID)).toBe(false);
  });

  it('keeps an agent that answers with an error Connected, with the error as lastError', async () => {
    const a = await agent();
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);
    // Every host stats call now fails in the hypervisor (as when libvirt is down): the agent answers 503.
    const list = a.driver.list.bind(a.driver);
    let failing = true;
    a.driver.list = async () => {
      if (failing) throw new DriverError('Unavailable', 'cannot connect to libvirt');
      return list();
    };
    await waitFor('the error in lastError', () => /answered 503/.test(link(t).lastError ?? ''));
    const l = link(t);
    expect(l.state).toBe('Connected');
    expect(l.failingSince).toBeUndefined();
    expect(l.lastError).toContain(`127.0.0.1:${a.port}`);
    failing = false;
    await waitFor('lastError cleared', () => link(t).lastError === undefined);
  });

  it('relists everything after an agent restart (new boot id)', async () => {
    const driver1 = new FakeDriver();
    driver1.addForeign(UID, 'old-one', 'running');
    driver1.addForeign(FOREIGN_UID, 'stray', 'running');
    const first = await agent({ driver: driver1, bootId: 'boot1', version: '0.1.0' });
    const port = first.port;
    const t = await manager();
    t.manager.ensure(target(port));
    const l1 = await connected(t);
    expect(l1.bootId).toBe('boot1');
    expect(l1.capabilities?.agentVersion).toBe('0.1.0');

    const driver2 = new FakeDriver();
    driver2.addForeign(UID2, 'new-one', 'paused');
    driver2.addForeign(FOREIGN_UID, 'stray', 'running');
    await first.close();
    const mark = t.changes.length;
    await agent({ port, driver: driver2, bootId: 'boot2', version: '0.2.0' });

    await waitFor('the new boot id', () => link(t).bootId === 'boot2');
    await waitFor('the new agent version', () => link(t).capabilities?.agentVersion === '0.2.0');
    await waitFor('the new domain list', () => link(t).vms?.map((v) => v.uid).sort().join() === [UID2, FOREIGN_UID].sort().join());
    const after = t.changes.slice(mark);
    expect(after.some((c) => c.kind === 'host')).toBe(true);
    // The domain that is gone and the one that appeared are both announced...
    expect(after.some((c) => c.kind === 'vm' && c.uid === UID)).toBe(true);
    expect(after.some((c) => c.kind === 'vm' && c.uid === UID2)).toBe(true);
    // ...and so is the unchanged one: events were lost, so every domain is worth a look.
    await waitFor('the unchanged domain announced', () => t.changes.slice(mark).some((c) => c.kind === 'vm' && c.uid === FOREIGN_UID));
  });

  it('is idempotent for an unchanged target and reconnects to a new port', async () => {
    const a = await agent();
    const b = await agent({ bootId: 'bootB' });
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);
    for (let i = 0; i < 50; i += 1) t.manager.ensure(target(a.port));
    await sleep(HEARTBEAT_MS * 2);
    expect(t.created).toHaveLength(1);
    expect(link(t).state).toBe('Connected');

    t.manager.ensure(target(b.port));
    expect(link(t).state).toBe('Connecting');
    await waitFor('Connected to the new port', () => link(t).state === 'Connected' && b.count('/v1/host/stats') > 0);
    await waitFor('the new agent boot id', () => link(t).bootId === 'bootB');
    expect(t.created.map((o) => o.port)).toEqual([a.port, b.port]);

    // The old agent hears nothing more (after a request it may still have been answering).
    await sleep(200);
    const aRequests = a.count('/v1/host/stats');
    await sleep(HEARTBEAT_MS * 6);
    expect(a.count('/v1/host/stats')).toBe(aRequests);
    expect(b.count('/v1/host/stats')).toBeGreaterThan(1);
  });

  it('forget() stops heartbeats and the event stream', async () => {
    const a = await agent();
    const t = await manager();
    t.manager.ensure(target(a.port));
    await connected(t);
    expect(a.count('/v1/events')).toBe(0); // the stream is open (logged when it ends)

    t.manager.forget(KEY);
    expect(t.manager.link(KEY)).toBeUndefined();
    expect(t.manager.client(KEY)).toBeUndefined();
    await waitFor('the event stream to end', () => a.count('/v1/events') === 1);
    // A heartbeat cut short by forget() may still be logged by the agent.
    await sleep(100);
    const seen = a.requests.length;
    const notified = t.changes.length;
    await sleep(HEARTBEAT_MS * 6);
    expect(a.requests.length).toBe(seen);
    expect(t.changes.length).toBe(notified);
  });

  it('notifies nothing when nothing changed: silent relists, one host change per answered heartbeat', async () => {
    const storage = new FakeStorage();
    seedStorage(storage);
    const driver = new FakeDriver();
    driver.addForeign(FOREIGN_UID, 'stray', 'running');
    const a = await agent({ storage, driver });
    const t = await manager({ relistIntervalMs: 100 });
    t.manager.ensure(target(a.port));
    await connected(t);
    await sleep(HEARTBEAT_MS * 4);

    const mark = t.changes.length;
    const beats = t.callCount('stats');
    const relists = t.callCount('listVms');
    await sleep(HEARTBEAT_MS * 12);
    const window = t.changes.slice(mark);
    const beatsInWindow = t.callCount('stats') - beats;
    // Relists ran and found nothing new.
    expect(t.callCount('listVms') - relists).toBeGreaterThanOrEqual(2);
    expect(window.filter((c) => c.kind !== 'host')).toEqual([]);
    // Every answered heartbeat carries new stats (one host change each), nothing more.
    expect(window.length).toBeLessThanOrEqual(beatsInWindow + 1);
    expect(window.length).toBeGreaterThan(0);

    // A link that keeps failing the same way is silent too.
    await a.close();
    // The first failure may be a reset of the kept-alive connection; then every attempt is refused.
    await waitFor('refused connections', () => link(t).state === 'Unreachable' && /refused/.test(link(t).lastError ?? ''));
    const downMark = t.changes.length;
    const attempts = t.callCount('stats');
    await waitFor('more failed heartbeats', () => t.callCount('stats') >= attempts + 4);
    expect(t.changes.slice(downMark)).toEqual([]);
  });

  it('refuses an agent whose certificate names another host (CertificateRejected), and asks for the Host name', async () => {
    const a = await agent();
    const t = await manager();
    t.manager.ensure(target(a.port, { name: 'impostor' }));
    await waitFor('rejected', () => t.manager.link('dc1/impostor')?.state === 'CertificateRejected');
    expect(t.manager.link('dc1/impostor')?.lastError).toContain('another host');
    expect(t.created.map((o) => o.expectedName)).toContain('impostor');
  });

  it('refuses an agent serving a certificate issued before the newest one recorded (retired), and takes it once the pin allows it', async () => {
    const a = await agent();
    const t = await manager();
    // Recorded: a certificate issued tomorrow, so the one the test agent serves (issued now) was replaced.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    t.manager.ensure(target(a.port, { certificateIssuedNotBefore: tomorrow }));
    await waitFor('rejected', () => link(t).state === 'CertificateRejected');
    expect(link(t).lastError).toMatch(/serves a retired certificate/);
    expect(link(t).lastError).toContain(tomorrow);
    const before = t.callCount('stats');
    // The same Host with a pin from yesterday: the next handshake passes, no reconnect asked for.
    t.manager.ensure(target(a.port, { certificateIssuedNotBefore: new Date(Date.now() - 86_400_000).toISOString() }));
    await connected(t);
    expect(t.callCount('stats')).toBeGreaterThan(before);
  });

  it('close() stops every link and ignores later ensure()', async () => {
    const a = await agent();
    const t = await manager();
    t.manager.ensure(target(a.port));
    t.manager.ensure(target(a.port, { name: 'host-b' }));
    await connected(t);
    await connected(t, 'dc1/host-b');
    await t.manager.close();
    expect(t.manager.link(KEY)).toBeUndefined();
    t.manager.ensure(target(a.port));
    expect(t.manager.link(KEY)).toBeUndefined();
    const seen = a.count('/v1/host/stats');
    await sleep(HEARTBEAT_MS * 4);
    expect(a.count('/v1/host/stats')).toBe(seen);
  });
});
