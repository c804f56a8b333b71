/**
 * N host agents in one process, each the real agent server (mutual TLS, the
 * `/v1/` API, events) over a {@link SimulatedDriver} and real file storage,
 * on a loopback address of its own. **For control-plane scale benchmarks
 * only** (100 hosts on one machine); functional tests use real hosts.
 *
 * The agents share one simulated fabric, so a migration between two of
 * them works with the URI the operator derives from a Host's address
 * (`qemu+tcp://<address>/system`).
 *
 * @packageDocumentation
 */
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { CachedListDriver } from '../../hypervisor/cached-list.js';
import { SimulatedDriver, SimulatedFabric, type SimulatedDriverOptions } from '../../hypervisor/simulated/index.js';
import { createAgentServer, type AgentServer, type AgentTls } from '../server/index.js';
import type { LeaseConfig } from '../leases/config.js';
import { FileStorageManager } from '../storage/index.js';
import { fleetHosts, type FleetHost } from './addresses.js';

/** Options of {@link startSimulatedFleet}. */
export interface SimulatedFleetOptions {
  /** Number of agents. */
  count: number;
  /** Address of the first agent; the others follow (see {@link fleetAddresses}). */
  firstAddress?: string;
  /** Port every agent listens on at its own address (default 54321, the agent's usual port; 0 picks one each). */
  port?: number;
  /**
   * Each agent's server certificate and the CA clients must come from: one
   * for all (CN and SANs covering every agent), or one per agent (see
   * {@link createFleetPki}), which a real operator needs: it checks that the
   * CN is the Host's name.
   */
  tls: AgentTls | ((host: FleetHost) => AgentTls);
  /** Each agent's storage state lives in `<stateDir>/<host name>`. */
  stateDir: string;
  /** Host names are `<namePrefix>-<n>`, n from 1 (default `sim`; see {@link fleetHosts}). */
  namePrefix?: string;
  /** Latency scale of every simulated host (default 1: measured libvirt figures). */
  latencyScale?: number;
  /** Further simulated driver options, for every host. */
  driver?: Omit<SimulatedDriverOptions, 'uri' | 'fabric' | 'latencyScale'>;
  /** Parent logger; each agent logs as a child with its host name (default: warnings and worse to stderr). */
  logger?: Logger;
  /** SSE heartbeat interval (default the agent's, 15 s). */
  heartbeatMs?: number;
  /** Storage health poll interval (default the agent's, 10 s). */
  storagePollMs?: number;
  /**
   * Lock manager every agent reports and applies (default none). With lockd,
   * each agent adds the per-VM `<lease>` in `lockspace` (its files are created
   * there) and the simulated hypervisors hold the leases fabric-wide while a
   * domain runs, as virtlockd does on a shared lockspace: a start elsewhere is
   * refused while the VM runs, and a powered-off host's leases are free.
   */
  leases?: LeaseConfig;
}

/** One agent of a fleet. */
export interface SimulatedAgent {
  /** Host name (`sim-1`, ...). */
  name: string;
  /** Loopback address it listens on; the Host's `spec.address`. */
  address: string;
  port: number;
  /** Its URI as a migration destination. */
  uri: string;
  /** The simulated hypervisor (for fault injection: crash, powerOff). */
  driver: SimulatedDriver;
  server: AgentServer;
}

/** A running fleet. */
export interface SimulatedFleet {
  agents: SimulatedAgent[];
  fabric: SimulatedFabric<SimulatedDriver>;
  /** Stops every agent and leaves the fabric. */
  close(): Promise<void>;
}

/** The agent version simulated agents report. */
export const SIMULATED_AGENT_VERSION = '0.1.0-simulated';

/**
 * Starts `count` agents over simulated hypervisors. Should one fail to
 * start, all are stopped before the error is thrown.
 */
export async function startSimulatedFleet(options: SimulatedFleetOptions): Promise<SimulatedFleet> {
  const fabric = new SimulatedFabric<SimulatedDriver>();
  const logger = options.logger ?? pino({ level: 'warn' }, pino.destination(2));
  const agents: SimulatedAgent[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(agents.map((a) => a.server.close()));
    for (const a of agents) a.driver.close();
  };
  const hosts = fleetHosts(options.count, {
    ...(options.namePrefix !== undefined ? { namePrefix: options.namePrefix } : {}),
    ...(options.firstAddress !== undefined ? { firstAddress: options.firstAddress } : {}),
  });
  for (const host of hosts) {
    const { name, address } = host;
    const uri = `qemu+tcp://${address}/system`;
    const driver = new SimulatedDriver({ ...options.driver, uri, fabric, latencyScale: options.latencyScale ?? 1 });
    const server = createAgentServer({
      tls: typeof options.tls === 'function' ? options.tls(host) : options.tls,
      host: address,
      port: options.port ?? 54321,
      // The same list cache the real agent puts in front of its driver, so the agent's own code path is the real one.
      driver: new CachedListDriver(driver),
      storage: new FileStorageManager({ stateDir: path.join(options.stateDir, name) }),
      logger: logger.child({ host: name }),
      version: SIMULATED_AGENT_VERSION,
      ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
      ...(options.storagePollMs !== undefined ? { storagePollMs: options.storagePollMs } : {}),
      ...(options.leases !== undefined ? { leases: options.leases } : {}),
    });
    agents.push({ name, address, port: 0, uri, driver, server });
  }
  // All at once: each start lists its (simulated) domains, which takes the measured list latency.
  const started = await Promise.allSettled(agents.map((a) => a.server.listen()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await close().catch(() => undefined);
    throw failed.reason;
  }
  for (const a of agents) a.port = a.server.port();
  return { agents, fabric, close };
}
