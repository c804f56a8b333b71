/**
 * The scale benchmark's simulated fleet, in a process of its own (started
 * with `fork()` by src/bench/scale-env.ts): N real agent servers over
 * simulated hypervisors (src/agent/simulated-fleet/). A process apart from
 * the benchmark so the benchmark's watch and timers don't queue behind
 * 100 agents' TLS and JSON work, and so the fleet's CPU is measured apart.
 *
 * Protocol over the IPC channel:
 *   parent → child: { type: 'powerOff', host }   the host dies: its driver is
 *                     powered off (guests gone, disk locks released, no
 *                     events) and its agent server stops answering;
 *                   { type: 'close' }             stop every agent and exit.
 *   child → parent: { type: 'ready', agents: [{ name, address, port }] },
 *                   { type: 'poweredOff', host, at }, { type: 'error', message }.
 *
 * Configuration: a JSON file named by argv[2] ({@link FleetChildConfig}).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { startSimulatedFleet, type SimulatedFleet } from '../agent/simulated-fleet/index.js';

/** What the child reads from its configuration file. */
export interface FleetChildConfig {
  count: number;
  firstAddress?: string;
  stateDir: string;
  latencyScale: number;
  /** The Manager's CA (PEM): the operator's client certificate comes from it. */
  caPem: string;
  /** Server certificate and key per host name (PEM). */
  servers: Record<string, { cert: string; key: string }>;
  /** Agent log level (default warn). */
  logLevel?: string;
}

/** Messages the child sends. */
export type FleetChildMessage =
  | { type: 'ready'; agents: { name: string; address: string; port: number }[] }
  | { type: 'poweredOff'; host: string; at: number }
  | { type: 'error'; message: string };

/** Messages the child accepts. */
export type FleetParentMessage = { type: 'powerOff'; host: string } | { type: 'close' };

async function main(): Promise<void> {
  const send = (m: FleetChildMessage) => process.send?.(m);
  const config = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as FleetChildConfig;
  let fleet: SimulatedFleet;
  const lockspace = join(config.stateDir, 'lockspace');
  await mkdir(lockspace, { recursive: true });
  try {
    fleet = await startSimulatedFleet({
      count: config.count,
      ...(config.firstAddress ? { firstAddress: config.firstAddress } : {}),
      // A port each (picked by the kernel): other work on this machine may use the agent's usual port on loopback.
      port: 0,
      tls: (h) => {
        const s = config.servers[h.name];
        if (!s) throw new Error(`no certificate for ${h.name}`);
        return { cert: s.cert, key: s.key, ca: config.caPem };
      },
      stateDir: config.stateDir,
      latencyScale: config.latencyScale,
      logger: pino({ level: config.logLevel ?? 'warn' }, pino.destination(2)),
      // lockd, as on the test bed: the fabric is the shared lockspace, so a lost
      // host's HA VMs restart elsewhere on the lease proof (no fence agent here).
      leases: { manager: 'lockd', lockspace, autoDiskLeases: true },
    });
  } catch (error) {
    send({ type: 'error', message: String((error as Error).stack ?? error) });
    process.exit(1);
  }
  send({ type: 'ready', agents: fleet.agents.map((a) => ({ name: a.name, address: a.address, port: a.port })) });
  process.on('message', (m: FleetParentMessage) => {
    if (m.type === 'powerOff') {
      const agent = fleet.agents.find((a) => a.name === m.host);
      if (!agent) {
        send({ type: 'error', message: `no agent ${m.host}` });
        return;
      }
      const at = Date.now();
      agent.driver.powerOff();
      // Open connections (the operator's event stream, keep-alive sockets) end with the server: a dead host answers nothing.
      void agent.server.close().then(() => send({ type: 'poweredOff', host: m.host, at }));
    } else if (m.type === 'close') {
      void fleet.close().finally(() => process.exit(0));
    }
  });
  // The parent died: don't outlive it.
  process.on('disconnect', () => void fleet.close().finally(() => process.exit(0)));
}

await main();
