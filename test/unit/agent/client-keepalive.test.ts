/**
 * The AgentClient keeps its connections: sequential calls to one agent share
 * one TCP + TLS connection, also with the Host-name check (`expectedName`)
 * on. Node's https.Agent gives each request that brings its own
 * checkServerIdentity a socket pool of its own, so with the check set per
 * request every call was a new connection and handshake (in the scale
 * benchmark's profile, ~15 % of the operator's CPU). Connections are counted
 * by a TCP relay in front of the agent; the identity check still refuses
 * an agent that is another host (a fresh client, a fresh handshake).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentClient } from '../../../src/agent/client/index.js';
import { createFleetPki, fleetHosts, startSimulatedFleet, type FleetPki, type SimulatedFleet } from '../../../src/agent/simulated-fleet/index.js';

describe('AgentClient connection reuse', () => {
  let dir: string;
  let fleet: SimulatedFleet;
  let pki: FleetPki;
  let relay: Server;
  let relayPort = 0;
  let accepted = 0;
  const address = '127.0.2.21';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'drover-keepalive-'));
    const hosts = fleetHosts(1, { firstAddress: address });
    pki = await createFleetPki(path.join(dir, 'pki'), hosts);
    fleet = await startSimulatedFleet({
      count: 1,
      firstAddress: address,
      port: 0,
      tls: (h) => ({ ...pki.servers.get(h.name)!, ca: pki.ca }),
      stateDir: path.join(dir, 'agents'),
      latencyScale: 0,
      storagePollMs: 0,
    });
    const agentPort = fleet.agents[0]!.port;
    // Same address as the agent (its certificate's SAN), another port.
    relay = createServer((client) => {
      accepted += 1;
      const upstream = connect(agentPort, address);
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => relay.listen(0, address, resolve));
    relayPort = (relay.address() as { port: number }).port;
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => relay?.close(() => resolve()));
    await fleet?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tls = () => ({ cert: pki.client.cert, key: pki.client.key, ca: pki.ca });

  it('sends sequential calls over one connection with the Host-name check on', async () => {
    const client = new AgentClient({ host: address, port: relayPort, expectedName: 'sim-1', tls: tls() });
    try {
      accepted = 0;
      for (let i = 0; i < 10; i++) await client.listVms();
      await client.capabilities();
      expect(accepted).toBe(1);
    } finally {
      client.close();
    }
  });

  it('still refuses an agent whose certificate names another host', async () => {
    const client = new AgentClient({ host: address, port: relayPort, expectedName: 'sim-2', tls: tls() });
    try {
      await expect(client.listVms()).rejects.toMatchObject({ status: 0, reason: 'Unreachable' });
      await expect(client.listVms()).rejects.toMatchObject({ status: 0, reason: 'Unreachable' });
    } finally {
      client.close();
    }
  });
});
