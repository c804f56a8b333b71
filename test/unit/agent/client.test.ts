import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AgentApiError, type AgentEvent } from '../../../src/api/agent/index.js';
import { AgentClient } from '../../../src/agent/client/index.js';
import { DriverError } from '../../../src/hypervisor/driver.js';
import { startAgent, type Harness } from './support/harness.js';
import { GIB, UID, seedStorage, vmSpec } from './support/specs.js';

let h: Harness;
let client: AgentClient;
beforeEach(async () => {
  h = await startAgent();
  seedStorage(h.storage);
  client = h.client();
});
afterEach(async () => {
  await h.close();
});

async function rejection(p: Promise<unknown>): Promise<AgentApiError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof AgentApiError)) throw new Error(`expected an AgentApiError, got ${String(e)}`);
  return e;
}

describe('AgentClient against the real server', () => {
  it('reads host capabilities and stats', async () => {
    const caps = await client.capabilities();
    expect(caps).toMatchObject({ hypervisorType: 'kvm', agentVersion: '0.1.0-test', cpu: { cores: 4, threads: 2 }, libvirtVersion: '9.0.0' });
    const stats = await client.stats();
    expect(stats.cpuUsagePercent).toBe(50);
    expect(stats.memory).toEqual({ totalBytes: 16384000 * 1024, freeBytes: 8192000 * 1024, availableBytes: 12288000 * 1024 });
    expect(stats.loadAverage).toEqual({ one: 0.5, five: 0.25, fifteen: 0.1 });
  });

  it('drives storage and a VM through its whole life with typed answers', async () => {
    const domain = await client.connectStorageDomain('iso', { type: 'LocalFS', path: '/srv/iso' });
    expect(domain.connected).toBe(true);
    expect((await client.formatStorageDomain('iso', { uuid: '11111111-2222-4333-8444-555555555555', role: 'ISO' })).role).toBe('ISO');
    expect((await client.listStorageDomains()).items.map((d) => d.name).sort()).toEqual(['data', 'iso']);
    expect((await client.createVolume('data', 'extra', { sizeBytes: GIB })).format).toBe('qcow2');
    expect((await client.resizeVolume('data', 'extra', 2 * GIB)).virtualSizeBytes).toBe(2 * GIB);
    expect((await client.listVolumes('data')).items).toHaveLength(3);
    expect((await client.getVolume('data', 'extra')).path).toBe('/srv/data/images/extra.qcow2');

    const defined = await client.defineVm(UID, vmSpec());
    expect(defined).toMatchObject({ uid: UID, owned: true, state: 'shut off' });
    expect((await client.startVm(UID)).state).toBe('running');
    expect((await client.pauseVm(UID)).state).toBe('paused');
    expect((await client.resumeVm(UID)).state).toBe('running');
    expect((await client.stopVm(UID, { timeoutSeconds: 5 })).state).toBe('shut off');
    expect((await client.listVms()).items).toHaveLength(1);
    expect(await client.undefineVm(UID)).toEqual({ uid: UID, deleted: true });
    expect(await client.deleteVolume('data', 'extra')).toEqual({ domain: 'data', name: 'extra', deleted: true });
    expect(await client.disconnectStorageDomain('iso')).toEqual({ name: 'iso', connected: false });
  });

  it('migrates, reads progress and cancels', async () => {
    await client.defineVm(UID, vmSpec());
    await client.startVm(UID);
    const started = await client.migrateVm(UID, { destinationURI: 'qemu+tls://host2.example.com/system', autoConverge: true });
    expect(started.state).toBe('running');
    expect((await client.getMigration(UID)).jobInfo?.dataRemainingBytes).toBe(600);
    expect((await client.cancelMigration(UID)).state).toBe('cancelled');
  });

  it('throws AgentApiError with the HTTP status, reason and field', async () => {
    await client.defineVm(UID, vmSpec());
    h.driver.failNext.set('start', new DriverError('LeaseHeld', 'resource busy: lockspace lease is held by another host'));
    const lease = await rejection(client.startVm(UID));
    expect([lease.status, lease.reason]).toEqual([409, 'LeaseHeld']);
    expect(lease.message).toContain('lease');

    const missing = await rejection(client.defineVm(UID, vmSpec({ disks: [{ name: 'root', domain: 'data', volume: 'ghost' }] })));
    expect([missing.status, missing.reason, missing.field]).toEqual([400, 'VolumeNotFound', 'disks[0].volume']);

    const notFound = await rejection(client.getVm('0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'));
    expect([notFound.status, notFound.reason]).toEqual([404, 'NotFound']);
  });

  it('validates requests before sending them (status 0, nothing sent)', async () => {
    const calls = h.driver.calls.length;
    const bad = await rejection(client.defineVm(UID, { ...vmSpec(), memoryMiB: -1 }));
    expect([bad.status, bad.reason, bad.field]).toEqual([0, 'InvalidField', 'memoryMiB']);
    const badUid = await rejection(client.startVm('../../etc'));
    expect([badUid.status, badUid.field]).toEqual([0, 'uid']);
    expect(h.driver.calls.length).toBe(calls);
  });

  it('reports an unreachable agent as status 0, reason Unreachable', async () => {
    const port = h.port;
    await h.close();
    const dead = new AgentClient({ host: '127.0.0.1', port, tls: { cert: h.pki.client.cert, key: h.pki.client.key, ca: h.pki.ca }, timeoutMs: 2000 });
    const e = await rejection(dead.listVms());
    expect([e.status, e.reason]).toEqual([0, 'Unreachable']);
    dead.close();
    h = await startAgent();
  });

  it('refuses an agent whose certificate is not from the Manager CA', async () => {
    const wrongCa = new AgentClient({ host: '127.0.0.1', port: h.port, tls: { cert: h.pki.client.cert, key: h.pki.client.key, ca: h.pki.foreignCa } });
    const e = await rejection(wrongCa.listVms());
    expect(e.reason).toBe('Unreachable');
    wrongCa.close();
  });
});

describe('AgentClient.events()', () => {
  async function take(it: AsyncIterator<AgentEvent>, n: number): Promise<AgentEvent[]> {
    const out: AgentEvent[] = [];
    while (out.length < n) {
      const r = await it.next();
      if (r.done) break;
      out.push(r.value);
    }
    return out;
  }

  it('yields validated events and stops when aborted', async () => {
    const ac = new AbortController();
    const iterator = client.events({ signal: ac.signal, lastEventId: 'boot1-0' })[Symbol.asyncIterator]();
    const [started] = await take(iterator, 1);
    expect(started).toMatchObject({ type: 'AgentStarted', bootId: 'boot1' });
    h.driver.emit(UID, 'started', 'booted');
    const [lifecycle] = await take(iterator, 1);
    expect(lifecycle).toMatchObject({ type: 'VmLifecycle', uid: UID, event: 'started' });
    ac.abort();
    expect((await iterator.next()).done).toBe(true);
  });

  it('reconnects after a dead stream (no heartbeat) and resumes from the last id without duplicates', async () => {
    const ac = new AbortController();
    const disconnects: unknown[] = [];
    const iterator = client
      .events({ signal: ac.signal, idleTimeoutMs: 150, reconnectDelayMs: 10, onDisconnect: (e) => disconnects.push(e) })
      [Symbol.asyncIterator]();
    const first = iterator.next();
    await new Promise((r) => setTimeout(r, 50));
    h.driver.emit(UID, 'started', 'booted');
    expect((await first).value).toMatchObject({ event: 'started' });
    // The agent heartbeats every 15 s here, so the client's 150 ms idle limit cuts the stream while it waits;
    // events sent around the reconnect are replayed from the last id.
    const second = iterator.next();
    await new Promise((r) => setTimeout(r, 250));
    h.driver.emit(UID, 'suspended', 'paused');
    h.driver.emit(UID, 'resumed', 'unpaused');
    const next = [(await second).value as AgentEvent, ...(await take(iterator, 1))];
    expect(next.map((e) => (e.type === 'VmLifecycle' ? e.event : e.type))).toEqual(['suspended', 'resumed']);
    expect(disconnects.some((e) => String(e).includes('no event or heartbeat'))).toBe(true);
    ac.abort();
    await iterator.return?.();
  });

  it('reconnects to a restarted agent and reports EventsLost (its ring is gone)', async () => {
    const ac = new AbortController();
    const port = h.port;
    // A client of its own: the harness closes the clients it made when the agent goes down.
    const own = new AgentClient({ host: '127.0.0.1', port, tls: { cert: h.pki.client.cert, key: h.pki.client.key, ca: h.pki.ca } });
    const iterator = own.events({ signal: ac.signal, reconnectDelayMs: 20 })[Symbol.asyncIterator]();
    const first = iterator.next();
    await new Promise((r) => setTimeout(r, 50));
    h.driver.emit(UID, 'started', 'booted');
    expect((await first).value).toMatchObject({ event: 'started' });

    await h.close();
    h = await startAgent({ port, bootId: 'boot2' });
    const after = await take(iterator, 2);
    expect(after[0]?.type).toBe('EventsLost');
    expect(after[1]).toMatchObject({ type: 'AgentStarted', bootId: 'boot2' });
    ac.abort();
    await iterator.return?.();
    own.close();
  });
});
