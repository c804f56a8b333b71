/**
 * The controller-runtime metric families (same names and labels as Go's
 * controller-runtime and client-go, so existing dashboards and alerts work),
 * implemented as the hook interfaces the controller, work queue and leader
 * elector call.
 */
import type { ControllerMetrics, ControllerMetricsProvider, ReconcileOutcome } from './controller.js';
import type { LeaderElectionMetrics } from './leader-election.js';
import type { Counter, Gauge, Histogram, Registry } from './metrics-registry.js';
import type { WorkQueueMetrics } from './workqueue.js';

/** controller-runtime's reconcile_time_seconds buckets. */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2,
  2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** client-go's work-queue duration buckets: 10 ns to 10 s by decades. */
const QUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

const OUTCOMES: readonly ReconcileOutcome[] = ['success', 'error', 'requeue', 'requeue_after'];

/**
 * Creates the families on a registry (once per registry) and hands out hooks
 * per controller / queue / lease. Pass it as `metrics` to `Controller`.
 */
export class RuntimeMetrics implements ControllerMetricsProvider {
  /** controller_runtime_reconcile_total{controller,result}. */
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  /** controller_runtime_reconcile_errors_total{controller}. */
  readonly reconcileErrors: Counter<'controller'>;
  /** controller_runtime_terminal_reconcile_errors_total{controller}. */
  readonly terminalReconcileErrors: Counter<'controller'>;
  /** controller_runtime_reconcile_time_seconds{controller}. */
  readonly reconcileTime: Histogram<'controller'>;
  /** controller_runtime_max_concurrent_reconciles{controller}. */
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  /** controller_runtime_active_workers{controller}. */
  readonly activeWorkers: Gauge<'controller'>;
  /** workqueue_depth{name}. */
  readonly depth: Gauge<'name'>;
  /** workqueue_adds_total{name}. */
  readonly adds: Counter<'name'>;
  /** workqueue_retries_total{name}. */
  readonly retries: Counter<'name'>;
  /** workqueue_queue_duration_seconds{name}. */
  readonly queueDuration: Histogram<'name'>;
  /** workqueue_work_duration_seconds{name}. */
  readonly workDuration: Histogram<'name'>;
  /** workqueue_longest_running_processor_seconds{name}, read at scrape time. */
  readonly longestRunning: Gauge<'name'>;
  /** leader_election_master_status{name}. */
  readonly leaderStatus: Gauge<'name'>;
  private readonly longestRunningReaders = new Map<string, () => number>();

  /** @param registry where the families are registered. */
  constructor(registry: Registry) {
    this.reconcileTotal = registry.counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
    });
    this.reconcileErrors = registry.counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
    });
    this.terminalReconcileErrors = registry.counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
    });
    this.reconcileTime = registry.histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_BUCKETS,
    });
    this.maxConcurrentReconciles = registry.gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
    });
    this.activeWorkers = registry.gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
    });
    this.depth = registry.gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'] });
    this.adds = registry.counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'] });
    this.retries = registry.counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'] });
    this.queueDuration = registry.histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
    });
    this.workDuration = registry.histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
    });
    this.longestRunning = registry.gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: ['name'],
      collect: (g) => {
        for (const [name, read] of this.longestRunningReaders) g.set({ name }, read());
      },
    });
    this.leaderStatus = registry.gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      labelNames: ['name'],
    });
  }

  /** {@inheritDoc ControllerMetricsProvider.controller} */
  controller(name: string): ControllerMetrics {
    const l = { controller: name };
    // Pre-create every result series so rate() queries see zeros, not gaps.
    for (const result of OUTCOMES) this.reconcileTotal.inc({ controller: name, result }, 0);
    this.reconcileErrors.inc(l, 0);
    this.terminalReconcileErrors.inc(l, 0);
    return {
      reconcileTotal: (result) => this.reconcileTotal.inc({ controller: name, result }),
      reconcileError: () => this.reconcileErrors.inc(l),
      terminalReconcileError: () => this.terminalReconcileErrors.inc(l),
      reconcileTime: (seconds) => this.reconcileTime.observe(l, seconds),
      maxConcurrentReconciles: (n) => this.maxConcurrentReconciles.set(l, n),
      activeWorkers: (n) => this.activeWorkers.set(l, n),
    };
  }

  /** {@inheritDoc ControllerMetricsProvider.workQueue} */
  workQueue(name: string): WorkQueueMetrics {
    const l = { name };
    this.depth.set(l, 0);
    this.adds.inc(l, 0);
    this.retries.inc(l, 0);
    return {
      depth: (n) => this.depth.set(l, n),
      added: () => this.adds.inc(l),
      retried: () => this.retries.inc(l),
      queueLatency: (seconds) => this.queueDuration.observe(l, seconds),
      workDuration: (seconds) => this.workDuration.observe(l, seconds),
      trackLongestRunningProcessor: (read) => {
        this.longestRunningReaders.set(name, read);
      },
    };
  }

  /** Hook for a leader elector's `metrics` option; `name` is the lease name. */
  leaderElection(name: string): LeaderElectionMetrics {
    return { leading: (isLeader) => this.leaderStatus.set({ name }, isLeader ? 1 : 0) };
  }
}
