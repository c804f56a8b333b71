/**
 * The hosted-engine HA role of one node (ovirt-ha-agent's job): every
 * metadata interval it reads the shared configuration, the maintenance
 * switches and every node's metadata, observes itself (score) and the
 * Manager VM (here, and its health URL), decides (state-machine.ts), writes
 * its own metadata, and carries out the one action decided.
 *
 * It needs neither the Manager nor the rest of the agent: `drover agent
 * --hosted-engine DIR` starts it before enrollment and before the API
 * server, with a hypervisor driver of its own, and no failure of a cycle
 * ends the loop (it is logged and the next cycle runs).
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { HostedEngineMaintenanceRequest, HostedEngineStatus } from '../../api/agent/hosted-engine.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import type { LeaseConfig } from '../leases/index.js';
import type { HostedEngineConfig } from './config.js';
import { EngineVm, localEngineOf } from './engine-vm.js';
import { LivenessTracker } from './liveness.js';
import { HostedEngineStore, type NodeRecord } from './metadata.js';
import { bridgePresent, checkHealth, loadPerCpu, memAvailableMiB, pingOnce } from './observe.js';
import { computeScore } from './score.js';
import { decide, initialMemory, noteMigrationFailed, noteStartRefused, type EngineHealth, type LocalEngine, type Memory, type PeerView } from './state-machine.js';
import { buildStatus } from './status.js';
import { DEFAULT_TIMINGS, type HostedEngineTimings } from './timings.js';

/** Options of {@link HostedEngineService}. */
export interface HostedEngineServiceOptions {
  /** The hosted-engine storage domain's directory on this node. */
  domainDir: string;
  /** This node's name (its metadata file's name). */
  node: string;
  /** Where other nodes' libvirt reaches this node's for a migration to it; absent: nobody migrates here. */
  address?: string;
  driver: HypervisorDriver;
  leases: LeaseConfig;
  logger: Logger;
  /** Monotonic clock in ms (tests). */
  clock?: () => number;
}

/** Rejects after `ms` (the operation itself is not cancelled: storage may hang). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** The HA role's loop and its API verbs. */
export class HostedEngineService {
  readonly store: HostedEngineStore;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly vm: EngineVm;
  private readonly liveness = new LivenessTracker();
  private readonly bootId = randomUUID();
  private seq = 0;
  private memory: Memory;
  private config: HostedEngineConfig | undefined;
  private configProblem: string | undefined;
  private globalMaintenance = false;
  private localMaintenance = false;
  private engineRunning = false;
  private health: { value: EngineHealth; at: number } = { value: 'unknown', at: 0 };
  private migration: Promise<void> | undefined;
  private migrationFailed = false;
  private stopped = false;
  private readonly wakers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private lastLoggedState: string | undefined;
  private pendingWrite: Promise<void> | undefined;

  constructor(private readonly o: HostedEngineServiceOptions) {
    this.store = new HostedEngineStore(o.domainDir);
    this.log = o.logger.child({ component: 'hosted-engine', node: o.node });
    this.clock = o.clock ?? (() => performance.now());
    this.memory = initialMemory(this.clock());
    this.vm = new EngineVm({ driver: o.driver, leases: o.leases, root: this.store.root });
  }

  private get timings(): HostedEngineTimings {
    return this.config?.timings ?? DEFAULT_TIMINGS;
  }

  /** Starts the decision loop and the health-check loop. */
  start(): void {
    this.log.info({ storage: this.o.domainDir, address: this.o.address }, 'hosted-engine HA role starting');
    this.loops = [this.run(() => this.cycle(), () => this.timings.metadataIntervalMs), this.run(() => this.checkHealthOnce(), () => this.timings.healthCheckIntervalMs)];
  }

  /** Ends both loops (the Manager VM keeps running wherever it runs). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
  }

  private async run(body: () => Promise<void>, intervalMs: () => number): Promise<void> {
    while (!this.stopped) {
      const started = this.clock();
      try {
        await body();
      } catch (error) {
        this.log.error({ err: error }, 'hosted-engine cycle failed; the next one runs as usual');
      }
      const wait = Math.max(0, intervalMs() - (this.clock() - started));
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.wakers.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, wait);
        this.wakers.add(wake);
      });
    }
  }

  private async checkHealthOnce(): Promise<void> {
    if (this.config === undefined) return;
    const timeout = Math.min(5000, Math.max(1000, this.timings.healthCheckIntervalMs));
    this.health = { value: await checkHealth(this.config.healthURL, timeout), at: this.clock() };
  }

  /** The last health verdict, unless it is too old to mean anything. */
  private currentHealth(now: number): EngineHealth {
    return now - this.health.at <= 3 * this.timings.healthCheckIntervalMs + 5000 ? this.health.value : 'unknown';
  }

  private async loadConfig(): Promise<void> {
    const read = await this.store.readConfig();
    if (read.ok) {
      if (this.config?.version !== read.config.version) this.log.info({ version: read.config.version }, 'hosted-engine configuration loaded');
      this.config = read.config;
      this.configProblem = undefined;
      return;
    }
    if (read.message !== this.configProblem) this.log.warn({ reason: read.reason }, read.message);
    this.configProblem = read.message;
  }

  private async localEngine(config: HostedEngineConfig): Promise<LocalEngine> {
    if (this.migration !== undefined) {
      this.engineRunning = true;
      return 'migrating';
    }
    try {
      const engine = localEngineOf(await this.vm.info(config));
      // Busy (a start before the guest runs, an incoming migration) is active here too: say so, others must not start it.
      this.engineRunning = engine !== 'down';
      return engine;
    } catch (error) {
      // libvirt unreachable: nothing is known, so nothing is done (engineRunning keeps its last value).
      this.log.warn({ err: error }, 'cannot ask the hypervisor about the Manager VM');
      return 'busy';
    }
  }

  private async cycle(): Promise<void> {
    await this.loadConfig();
    const config = this.config;
    if (config === undefined) return;
    const t = config.timings;
    const [global, local] = await Promise.all([this.store.readGlobalMaintenance().catch(() => undefined), this.store.readLocalMaintenance(this.o.node).catch(() => undefined)]);
    if (global !== undefined) this.globalMaintenance = global;
    if (local !== undefined) this.localMaintenance = local;
    const records = await withTimeout(this.store.readNodes(), 2 * t.metadataIntervalMs, 'reading the node metadata').catch((error: unknown) => {
      this.log.warn({ err: error }, 'cannot read the other nodes\' metadata');
      return [] as NodeRecord[];
    });
    const now = this.clock();
    const ages = this.liveness.observe(records, now);
    const peers: PeerView[] = records
      .filter((r) => r.name !== this.o.node)
      .map((r) => ({
        name: r.name,
        score: r.score,
        state: r.state,
        live: (ages.get(r.name) ?? Number.POSITIVE_INFINITY) < t.hostAliveTimeoutMs,
        localMaintenance: r.localMaintenance,
        engineRunning: r.engineRunning,
        engineHealth: r.engineHealth,
      }));
    const engine = await this.localEngine(config);
    if (this.migrationFailed) {
      this.migrationFailed = false;
      this.memory = noteMigrationFailed(this.memory, now);
    }
    const [gatewayReachable, load, mem, bridge] = await Promise.all([
      pingOnce(config.gateway),
      loadPerCpu(),
      memAvailableMiB(),
      bridgePresent(config.vm.bridge),
    ]);
    const score = computeScore({
      gatewayReachable,
      loadPerCpu: load,
      memAvailableMiB: mem,
      engineMemoryMiB: config.vm.memoryMiB,
      runsEngine: engine !== 'down',
      bridgePresent: bridge,
      configStale: this.configProblem !== undefined,
    });
    const health = this.currentHealth(this.clock());
    const decision = decide(
      { now, name: this.o.node, rawScore: score.score, localMaintenance: this.localMaintenance, globalMaintenance: this.globalMaintenance, engine, health, peers, timings: t },
      this.memory,
    );
    this.memory = decision.memory;
    if (decision.memory.state !== this.lastLoggedState || decision.action.kind !== 'none') {
      this.log.info({ state: decision.memory.state, score: decision.score, penalties: score.penalties, engine, health, action: decision.action }, 'hosted-engine state');
      this.lastLoggedState = decision.memory.state;
    }
    const penalties = { ...score.penalties };
    if (decision.score < score.score && !this.localMaintenance) penalties['unexpectedShutdown'] = score.score - decision.score;
    await this.writeRecord(config, { score: decision.score, penalties, engine, health });
    await this.act(config, decision.action, records);
  }

  private async writeRecord(config: HostedEngineConfig, s: { score: number; penalties: Record<string, number>; engine: LocalEngine; health: EngineHealth }): Promise<void> {
    this.seq += 1;
    const record: NodeRecord = {
      name: this.o.node,
      bootId: this.bootId,
      seq: this.seq,
      writtenAt: new Date().toISOString(),
      score: s.score,
      penalties: s.penalties,
      state: this.memory.state,
      localMaintenance: this.localMaintenance,
      engineRunning: this.engineRunning,
      engineHealth: s.health,
      configVersion: this.configProblem === undefined ? config.version : 0,
      ...(this.o.address !== undefined ? { address: this.o.address } : {}),
    };
    // A write still hanging on dead storage is not joined by another one every cycle.
    if (this.pendingWrite !== undefined) {
      this.log.warn('the previous metadata write still hangs; not writing again');
      return;
    }
    const write = this.store.writeNode(record).finally(() => {
      this.pendingWrite = undefined;
    });
    this.pendingWrite = write;
    try {
      await withTimeout(write, 2 * config.timings.metadataIntervalMs, 'writing this node\'s metadata');
    } catch (error) {
      // The other nodes will see this one as dead; the lease still keeps the VM from running twice.
      this.log.warn({ err: error }, 'cannot write this node\'s hosted-engine metadata');
    }
  }

  private async act(config: HostedEngineConfig, action: ReturnType<typeof decide>['action'], records: readonly NodeRecord[]): Promise<void> {
    switch (action.kind) {
      case 'none':
        return;
      case 'start': {
        const outcome = await this.vm.start(config);
        if (outcome.ok) {
          this.log.info('Manager VM started on this node');
          this.engineRunning = true;
        } else {
          this.memory = noteStartRefused(this.memory, this.clock());
          // A refused start is expected (another node runs it, its lease held): back off, no error loop.
          if (outcome.leaseHeld) this.log.info({ reason: outcome.message }, 'Manager VM start refused: its lease is held elsewhere; backing off');
          else this.log.warn({ reason: outcome.message }, 'Manager VM start failed; backing off');
        }
        return;
      }
      case 'stop':
        this.log.warn({ reason: action.reason }, 'stopping the Manager VM on this node');
        await this.vm.stop(config);
        this.engineRunning = false;
        return;
      case 'migrate': {
        const address = records.find((r) => r.name === action.to)?.address;
        if (address === undefined) {
          this.log.warn({ to: action.to }, 'cannot migrate the Manager VM: the target node publishes no address');
          this.memory = noteMigrationFailed(this.memory, this.clock());
          return;
        }
        this.log.info({ to: action.to, address, reason: action.reason }, 'migrating the Manager VM away');
        this.migration = this.vm.migrate(config, address).then(
          () => this.log.info({ to: action.to }, 'Manager VM migrated'),
          (error: unknown) => {
            this.migrationFailed = true;
            this.log.warn({ err: error, to: action.to }, 'Manager VM migration failed');
          },
        ).finally(() => {
          this.migration = undefined;
        });
        return;
      }
    }
  }

  /** `GET /v1/hosted-engine`: the shared metadata as this node reads it. */
  async status(): Promise<HostedEngineStatus> {
    const [records, global] = await Promise.all([this.store.readNodes(), this.store.readGlobalMaintenance()]);
    const ages = this.liveness.observe(records, this.clock());
    return buildStatus({
      storagePath: this.o.domainDir,
      records,
      ages,
      hostAliveTimeoutMs: this.timings.hostAliveTimeoutMs,
      globalMaintenance: global ?? this.globalMaintenance,
      readAt: new Date(),
    });
  }

  /** `PUT /v1/hosted-engine/maintenance`: sets what is given, then decides again at once. */
  async setMaintenance(change: HostedEngineMaintenanceRequest): Promise<HostedEngineStatus> {
    if (change.global !== undefined) await this.store.writeGlobalMaintenance(change.global, `agent@${this.o.node}`);
    if (change.local !== undefined) await this.store.writeLocalMaintenance(this.o.node, change.local);
    if (change.global !== undefined || change.local !== undefined) {
      this.log.info({ change }, 'hosted-engine maintenance set through the agent API');
      for (const wake of this.wakers) wake();
    }
    return this.status();
  }
}
