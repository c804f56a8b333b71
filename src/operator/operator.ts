/**
 * The operator process: informers for Drover's kinds (started at once, so a
 * standby has warm caches), controllers started only while this replica holds
 * the Lease, /healthz /readyz /metrics, and a graceful SIGTERM: stop intake,
 * finish in-flight reconciles, release the Lease, exit.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { KubeObjectClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { KubeEventRecorder } from '../kube/events.js';
import { Informer } from '../kube/informer.js';
import { KubeLeaseStore } from '../kube/lease-store.js';
import { leaseConnectionFrom } from '../kube/lease-connection.js';
import { KubeAccessReviewer } from '../kube/access-review.js';
import { createControllers } from '../controllers/register.js';
import { AgentConnectionManager } from './agents/connections.js';
import { CommandFenceRunner } from './fencing/command-runner.js';
import type { Informers, OperatorContext } from '../controllers/context.js';
import { Controller } from '../runtime/controller.js';
import { HealthServer } from '../runtime/health-server.js';
import { LeaderElector, type LeaderCallbacks, type LeaderElectionMetrics } from '../runtime/leader-election.js';
import { startLeaderThread } from './leader/thread.js';
import { defaultControllerRateLimiter } from '../runtime/backoff.js';
import { createOperatorMetrics } from './metrics.js';
import { TokenBucket } from '../runtime/rate-limiter.js';
import { Resources } from './resources.js';
import { createEnrollmentServer, createOperatorPki } from './pki-wiring.js';
import { startConsoleProxy } from './console-wiring.js';

/** Operator settings (flags and environment). */
export interface OperatorOptions {
  kubeconfig?: string;
  /** Namespace of the leader-election Lease (the operator's own namespace). */
  leaseNamespace: string;
  leaseName: string;
  /** Unique identity of this replica. */
  identity?: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /**
   * Run the Lease renewal on its own worker thread (src/runtime/threaded-elector.ts),
   * so a busy event loop cannot starve it. Falls back to the main thread when
   * the kubeconfig's credentials cannot be used there (exec plugins).
   */
  leaderElectionThread: boolean;
  /** How long the main thread may stay silent before the election thread stops renewing, ms. */
  leaderStallLimitMs: number;
  /** Client-side limit on requests to the API server (client-go's QPS and burst; watches are not limited). */
  kubeApiQps: number;
  kubeApiBurst: number;
  /** Renew agent certificates this long before they expire; 0: when a third of their lifetime is left (kubelet's rule of thumb). */
  agentCertRenewBeforeMs: number;
  /** Health and metrics listener. */
  healthHost: string;
  healthPort: number;
  /** Watch one namespace only (undefined: all namespaces). */
  watchNamespace?: string;
  maxConcurrentReconciles: number;
  /** Workers of the VirtualMachine controller (its reconciles wait on agents). */
  vmWorkers: number;
  /** Workers of the Host controller (each heartbeat is a Host reconcile). */
  hostWorkers: number;
  /** Concurrent disk create + define + start per host; more VMs wait in the operator. */
  hostStartConcurrency: number;
  /** Concurrent disk create + define + start on all hosts together (they share storage). */
  startConcurrency: number;
  /** First retry delay of a failing reconcile, ms (client-go: 5 ms). */
  backoffBaseMs: number;
  /** Longest retry delay, ms (client-go: 1000 s). */
  backoffMaxMs: number;
  /** How long a graceful stop waits for in-flight reconciles, ms. */
  shutdownTimeoutMs: number;
  /**
   * Enables the `testbed` fence agent (development and tests only): the test
   * bed's state directory, handed to `drover dev fence-testbed`.
   */
  testbedFenceStateDir?: string;
  /** `host:port` of the host enrollment server (HTTPS; every replica serves it). Port 0 picks a free port. */
  enrollListen: string;
  /**
   * `host:port` of the console proxy (HTTPS + WebSocket; every replica serves
   * it). Undefined: the enrollment listener's host, port 9444 (0 when the
   * enrollment port is 0). An empty string turns the proxy off.
   */
  consoleListen?: string;
  /** The cluster's client CA (PEM file): client certificates it signed authenticate console users. */
  clientCaFile?: string;
  /** The console proxy's serving certificate and key (PEM files); a self-signed one when absent. */
  consoleTlsCertFile?: string;
  consoleTlsKeyFile?: string;
}

/** Defaults as in client-go and controller-runtime. */
export const DEFAULT_OPERATOR_OPTIONS: OperatorOptions = {
  leaseNamespace: process.env['POD_NAMESPACE'] ?? 'drover-system',
  leaseName: 'drover-operator',
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  leaderElectionThread: true,
  leaderStallLimitMs: 60_000,
  agentCertRenewBeforeMs: 0,
  // KubeVirt's virt-controller defaults: far above what 2,000 VMs need (docs/benchmarks.md), a ceiling for a runaway loop.
  kubeApiQps: 200,
  kubeApiBurst: 400,
  healthHost: '0.0.0.0',
  healthPort: 8081,
  maxConcurrentReconciles: 4,
  vmWorkers: 32,
  hostWorkers: 16,
  hostStartConcurrency: 4,
  startConcurrency: 32,
  backoffBaseMs: 5,
  backoffMaxMs: 1_000_000,
  shutdownTimeoutMs: 30_000,
  enrollListen: '0.0.0.0:9443',
};

/** A running operator; `stop()` is what SIGTERM does. */
export interface RunningOperator {
  stop(): Promise<void>;
  isLeader(): boolean;
  healthPort(): number;
  /** The port the enrollment server listens on. */
  enrollPort(): number;
  /** The port the console proxy listens on (0 when it is off). */
  consolePort(): number;
  /** Resolves when the process should exit, with the exit code. */
  exited: Promise<number>;
}

/** Starts the operator. */
export async function runOperator(options: OperatorOptions, log: Logger): Promise<RunningOperator> {
  const kubeConfig = loadKubeConfig(options.kubeconfig);
  const identity = options.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`;
  // The histogram exists once the registry does (below); requests before that are not observed.
  let observeWait: ((waitedMs: number) => void) | undefined;
  const client = new KubeObjectClient(kubeConfig, 'drover-operator', {
    limiter: new TokenBucket(options.kubeApiQps, options.kubeApiBurst),
    observeWait: (ms) => observeWait?.(ms),
  });
  const informerLog = log.child({ component: 'informer' });
  const informers: Informers = {
    managers: new Informer(client, Resources.Manager, options.watchNamespace, informerLog),
    hosts: new Informer(client, Resources.Host, options.watchNamespace, informerLog),
    storageDomains: new Informer(client, Resources.StorageDomain, options.watchNamespace, informerLog),
    virtualMachines: new Informer(client, Resources.VirtualMachine, options.watchNamespace, informerLog),
    migrations: new Informer(client, Resources.VirtualMachineMigration, options.watchNamespace, informerLog),
  };
  const events = new KubeEventRecorder(kubeConfig, 'drover-operator', identity, log);
  const operatorPki = createOperatorPki(kubeConfig, log);
  const ctx: OperatorContext = {
    client,
    informers,
    events,
    log,
    pki: operatorPki.pki,
    // Links to agents exist only while this replica leads (see onStartedLeading).
    agents: undefined as unknown as OperatorContext['agents'],
    fencing: new CommandFenceRunner(options.testbedFenceStateDir ? { testbed: { stateDir: options.testbedFenceStateDir } } : {}),
    readSecret: async (namespace, name) => (await operatorPki.secrets.get(namespace, name))?.data,
    leaderSince: new Date(),
    now: () => new Date(),
    agentCertRenewBeforeMs: options.agentCertRenewBeforeMs,
  };

  // Every replica enrolls hosts (token consumption is atomic on the API
  // server), so a standby is useful to joining hosts too. Started first: a
  // taken port fails the start instead of leaving a half-running replica.
  const enrollment = createEnrollmentServer({ listen: options.enrollListen, pki: operatorPki, client, events, log });
  await enrollment.listen();
  const consoleProxy = await startConsoleProxy(options, { client, reviewer: new KubeAccessReviewer(kubeConfig), pki: operatorPki.pki, log });

  // Environment gauges come from the caches, and only the leader exports them.
  let leading = () => false;
  const { registry, runtime: runtimeMetrics, agents: agentMetrics, rateLimiterWait } = createOperatorMetrics({ informers, active: () => leading() });
  observeWait = rateLimiterWait;
  const health = new HealthServer({ host: options.healthHost, port: options.healthPort, registry, logger: log });
  const all = Object.values(informers);
  health.addReadyzCheck('informers-synced', () => all.every((i) => i.hasSynced()));
  await health.listen();
  for (const informer of all) informer.start();

  let controllers: Controller[] = [];
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  let stopping = false;

  const callbacks: LeaderCallbacks = {
    onStartedLeading: async (signal) => {
      log.info({ identity }, 'became leader, starting controllers');
      await Promise.all(all.map((i) => i.waitForSync()));
      if (signal.aborted) return;
      // Only the leader talks to agents: a standby must not heartbeat or drive hosts.
      const agents = new AgentConnectionManager({
        tlsFor: (ns) => operatorPki.pki.clientTls(ns),
        log: log.child({ component: 'agents' }),
        clientFactory: agentMetrics.clientFactory(),
      });
      controllers = createControllers({ ...ctx, agents, leaderSince: new Date() }, {
        metrics: runtimeMetrics,
        maxConcurrentReconciles: options.maxConcurrentReconciles,
        vmWorkers: options.vmWorkers,
        hostWorkers: options.hostWorkers,
        hostStartConcurrency: options.hostStartConcurrency,
        startConcurrency: options.startConcurrency,
        rateLimiter: () => defaultControllerRateLimiter({ baseDelayMs: options.backoffBaseMs, maxDelayMs: options.backoffMaxMs }),
      });
      for (const c of controllers) c.start();
      // Leader-only work ends when leadership does: drain the controllers
      // before the Lease is released, so two leaders never reconcile at once.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.all(controllers.map((c) => c.stop(options.shutdownTimeoutMs)));
      await agents.close();
    },
    onStoppedLeading: () => {
      if (!stopping) {
        // Lost the Lease without being asked to stop: exit so a restart
        // campaigns afresh, as client-go operators do.
        log.error({ identity }, 'lost leadership, exiting');
        resolveExit(1);
      }
    },
    onNewLeader: (leader) => log.info({ leader }, 'observed leader'),
  };
  const elector = createElector(options, kubeConfig, identity, callbacks, log, runtimeMetrics.leaderElection(options.leaseName));
  leading = () => elector.isLeader();
  elector.start();

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down: stopping controllers and releasing the lease');
    await elector.stop({ release: true });
    await Promise.all(all.map((i) => i.stop()));
    await enrollment.close();
    await consoleProxy?.close();
    await health.close();
    resolveExit(0);
  };
  return { stop, isLeader: () => elector.isLeader(), healthPort: () => health.port(), enrollPort: () => enrollment.port(), consolePort: () => consoleProxy?.port() ?? 0, exited };
}

/** The parts of an elector the operator uses (in-thread or on its own thread). */
interface Elector {
  start(): void;
  stop(options?: { release?: boolean }): Promise<void>;
  isLeader(): boolean;
}

/**
 * The leader elector: on its own thread when enabled and the credentials allow
 * it, else on the main thread (the only choice before: kept as the fallback).
 */
function createElector(
  options: OperatorOptions,
  kubeConfig: ReturnType<typeof loadKubeConfig>,
  identity: string,
  callbacks: LeaderCallbacks,
  log: Logger,
  metrics: LeaderElectionMetrics,
): Elector {
  const common = {
    identity,
    name: options.leaseName,
    leaseDurationMs: options.leaseDurationMs,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
  };
  if (options.leaderElectionThread) {
    const found = leaseConnectionFrom(kubeConfig);
    if ('connection' in found) {
      log.info({ lease: options.leaseName }, 'leader election runs on its own thread');
      const tracked: LeaderCallbacks = {
        ...callbacks,
        onStartedLeading: (signal) => {
          metrics.leading(true);
          signal.addEventListener('abort', () => metrics.leading(false), { once: true });
          return callbacks.onStartedLeading?.(signal);
        },
      };
      metrics.leading(false);
      return startLeaderThread({
        ...common,
        namespace: options.leaseNamespace,
        stallLimitMs: options.leaderStallLimitMs,
        connection: found.connection,
        logLevel: log.level,
        callbacks: tracked,
        onWorkerFailure: (err) => log.error({ err }, 'leader election thread failed'),
      });
    }
    log.warn({ reason: found.unsupported }, 'leader election stays on the main thread');
  }
  return new LeaderElector({
    ...common,
    store: new KubeLeaseStore(kubeConfig, options.leaseNamespace, options.leaseName),
    logger: log,
    metrics,
    callbacks,
  });
}
