/**
 * Three agents over simulated hypervisors in this one process (what the
 * scale benchmark runs a hundred of), each on its own loopback address with
 * real mutual TLS and real file storage, driven through the AgentClient: a
 * VM is created on shared storage, started, stopped gracefully, started
 * again, migrated to another agent and deleted.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentClient } from '../../../src/agent/client/index.js';
import { createFleetPki, fleetAddresses, fleetHosts, startSimulatedFleet, type FleetPki, type SimulatedFleet } from '../../../src/agent/simulated-fleet/index.js';
import type { AgentEvent, VmSpecInput } from '../../../src/api/agent/index.js';

const waitFor = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('a fleet of simulated agents in one process', () => {
  let dir: string;
  let fleet: SimulatedFleet;
  let clients: AgentClient[];
  let pki: FleetPki;
  const events: AgentEvent[][] = [];
  const stopEvents = new AbortController();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'drover-fleet-'));
    // 127.0.2.x: clear of other tests' loopback use; port 0 so parallel runs cannot collide.
    const hosts = fleetHosts(3, { firstAddress: '127.0.2.1' });
    pki = await createFleetPki(path.join(dir, 'pki'), hosts);
    fleet = await startSimulatedFleet({
      count: 3,
      firstAddress: '127.0.2.1',
      port: 0,
      tls: (h) => ({ ...pki.servers.get(h.name)!, ca: pki.ca }),
      stateDir: path.join(dir, 'agents'),
      latencyScale: 0,
      storagePollMs: 0,
    });
    // As the operator connects: the agent's certificate must name the Host.
    clients = fleet.agents.map(
      (a) => new AgentClient({ host: a.address, port: a.port, expectedName: a.name, tls: { cert: pki.client.cert, key: pki.client.key, ca: pki.ca } }),
    );
    expect(fleet.agents.map((a) => a.name)).toEqual(hosts.map((h) => h.name));
    for (const [i, c] of clients.entries()) {
      events[i] = [];
      void (async () => {
        for await (const e of c.events({ signal: stopEvents.signal })) events[i]!.push(e);
      })();
    }
  }, 60_000);

  afterAll(async () => {
    stopEvents.abort();
    for (const c of clients ?? []) c.close();
    await fleet?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives every agent an address, a hypervisor and a host identity of its own', async () => {
    expect(new Set(fleet.agents.map((a) => a.address)).size).toBe(3);
    expect(fleet.agents.map((a) => a.uri)).toEqual(fleet.agents.map((a) => `qemu+tcp://${a.address}/system`));
    const caps = await Promise.all(clients.map((c) => c.capabilities()));
    expect(new Set(caps.map((c) => c.hostUUID)).size).toBe(3);
    for (const c of caps) expect(c.agentVersion).toContain('simulated');
  });

  it('serves each agent with a certificate of its own Host name, refused under another', async () => {
    const [a1, a2] = fleet.agents;
    const tls = { cert: pki.client.cert, key: pki.client.key, ca: pki.ca };
    const wrong = new AgentClient({ host: a1!.address, port: a1!.port, expectedName: a2!.name, tls });
    try {
      await expect(wrong.capabilities()).rejects.toThrow(/not "sim-2"/);
    } finally {
      wrong.close();
    }
  });

  it('creates, starts, stops, restarts, migrates and deletes a VM through the agent API', async () => {
    const [c1, c2, c3] = clients as [AgentClient, AgentClient, AgentClient];
    // Shared storage: one directory every agent connects as a PosixFS domain.
    const shared = path.join(dir, 'shared');
    await mkdir(shared);
    for (const c of clients) await c.connectStorageDomain('shared', { type: 'PosixFS', path: shared });
    await c1.formatStorageDomain('shared', { uuid: randomUUID(), role: 'Data' });
    await c1.createVolume('shared', 'web-root', { sizeBytes: 64 * 1024 * 1024 });

    const uid = randomUUID();
    const spec: VmSpecInput = {
      name: 'fleet-web-1',
      owner: { namespace: 'fleet', name: 'web-1' },
      generation: 1,
      cpu: { cores: 1 },
      memoryMiB: 256,
      disks: [{ name: 'root', domain: 'shared', volume: 'web-root', bootOrder: 1 }],
      nics: [{ name: 'eth0', bridge: 'br0', mac: '52:54:00:aa:00:01' }],
    };
    expect(await c1.defineVm(uid, spec)).toMatchObject({ uid, state: 'shut off', owned: true });
    expect(await c1.startVm(uid)).toMatchObject({ state: 'running' });
    await waitFor('started event', async () => events[0]!.find((e) => e.type === 'VmLifecycle' && e.uid === uid && e.event === 'started'));

    // Graceful stop: the simulated guest obeys ACPI.
    expect(await c1.stopVm(uid, { timeoutSeconds: 30 })).toMatchObject({ state: 'shut off' });
    expect(await c1.getVm(uid)).toMatchObject({ state: 'shut off' });
    await waitFor('stopped/shutdown event', async () =>
      events[0]!.find((e) => e.type === 'VmLifecycle' && e.uid === uid && e.event === 'stopped' && e.detail === 'shutdown'),
    );

    // The same disk cannot run on a second host while the first runs it.
    await c1.startVm(uid);
    await c3.defineVm(uid, spec);
    await expect(c3.startVm(uid)).rejects.toMatchObject({ status: 409, reason: 'LeaseHeld' });
    await c3.undefineVm(uid);

    // Live migration to agent 2, at the address the operator would derive from its Host.
    await c1.migrateVm(uid, { destinationURI: fleet.agents[1]!.uri });
    const done = await waitFor('migration end', async () => {
      const m = await c1.getMigration(uid);
      return m.state === 'running' ? undefined : m;
    });
    expect(done.state).toBe('succeeded');
    expect((await c1.listVms()).items.map((v) => v.uid)).not.toContain(uid);
    expect(await c2.getVm(uid)).toMatchObject({ state: 'running', owned: true });
    await waitFor('resumed/migrated on agent 2', async () =>
      events[1]!.find((e) => e.type === 'VmLifecycle' && e.uid === uid && e.event === 'resumed' && e.detail === 'migrated'),
    );

    await c2.destroyVm(uid);
    expect(await c2.undefineVm(uid)).toEqual({ uid, deleted: true });
    expect((await c2.listVms()).items).toEqual([]);
    await c1.deleteVolume('shared', 'web-root');
  });
});

describe('fleetAddresses and fleetHosts', () => {
  it('counts up through loopback, skipping each /24 network and broadcast address', () => {
    expect(fleetAddresses(3, '127.0.1.253')).toEqual(['127.0.1.253', '127.0.1.254', '127.0.2.1']);
    expect(fleetAddresses(100)).toHaveLength(100);
    expect(new Set(fleetAddresses(600)).size).toBe(600);
    expect(fleetHosts(2, { namePrefix: 'h' })).toEqual([
      { name: 'h-1', address: '127.0.1.1' },
      { name: 'h-2', address: '127.0.1.2' },
    ]);
  });

  it('refuses to leave 127.0.0.0/8', () => {
    expect(() => fleetAddresses(2, '127.255.255.254')).toThrow(RangeError);
    expect(() => fleetAddresses(1, '10.0.0.1')).toThrow(RangeError);
    expect(() => fleetAddresses(1, '127.0.0')).toThrow(RangeError);
  });
});
