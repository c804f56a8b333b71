/**
 * The generic controller loop (controller-runtime's Controller, cert-manager's
 * worker): N workers pull keys from the controller's own work queue and call
 * the reconciler. Errors back off per key; success resets the backoff; a
 * {@link TerminalError} is recorded but not retried, so an invalid spec does
 * not hot-loop. The same key never runs in two workers at once.
 */
import type { Logger } from 'pino';
import { type RateLimiter } from './backoff.js';
import { realClock, TIMED_OUT, withTimeout, type Clock } from './clock.js';
import { isTerminalError } from './errors.js';
import { splitKey } from './keys.js';
import { WorkQueue, type WorkQueueMetrics } from './workqueue.js';

/** What a reconcile asks for besides "done". Returning nothing means done. */
export interface ReconcileResult {
  /** Reconcile again after this many ms (e.g. to poll an agent); resets the error backoff. */
  requeueAfter?: number;
  /** Reconcile again with the per-key backoff, without counting as an error. */
  requeue?: boolean;
}

/** Extra context handed to each reconcile. */
export interface ReconcileContext {
  /** The key being reconciled (`namespace/name` or `name`). */
  key: string;
  /** Namespace part of the key, absent for cluster-scoped objects. */
  namespace?: string;
  /** Name part of the key. */
  name: string;
  /** Logger already bound to { controller, namespace, name }. */
  log: Logger;
  /** Aborted when a graceful stop times out, so long calls can give up. */
  signal: AbortSignal;
}

/** A reconcile function: make the world match the object named by `key`. */
export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

/** The `result` label of `controller_runtime_reconcile_total`. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'requeue_after';

/** Hooks a metrics backend implements to observe one controller. */
export interface ControllerMetrics {
  /** One reconcile finished with `outcome`. */
  reconcileTotal(outcome: ReconcileOutcome): void;
  /** One reconcile failed (terminal or not). */
  reconcileError(): void;
  /** One reconcile failed with a {@link TerminalError}. */
  terminalReconcileError(): void;
  /** One reconcile took `seconds`. */
  reconcileTime(seconds: number): void;
  /** The configured worker count. */
  maxConcurrentReconciles(n: number): void;
  /** Workers currently inside a reconcile. */
  activeWorkers(n: number): void;
}

/** Gives a controller its metric hooks, by controller name (implemented by `RuntimeMetrics`). */
export interface ControllerMetricsProvider {
  /** Hooks for the controller called `name`. */
  controller(name: string): ControllerMetrics;
  /** Hooks for the work queue of the controller called `name`. */
  workQueue(name: string): WorkQueueMetrics;
}

/** Options for {@link Controller}. */
export interface ControllerOptions {
  /** Controller name: metric label, log field and queue name. */
  name: string;
  /** The reconcile function. */
  reconcile: Reconciler;
  /** Base logger; the controller adds { controller } and per-key { namespace, name }. */
  logger: Logger;
  /** Number of workers (default 2). */
  maxConcurrentReconciles?: number;
  /** Backoff for failed keys (default 5 ms … 1000 s per key, 10 qps / 100 burst overall). */
  rateLimiter?: RateLimiter;
  /** Time source (default the real clock). */
  clock?: Clock;
  /** Metrics hooks (default none). */
  metrics?: ControllerMetricsProvider;
  /** How long `stop()` waits for in-flight reconciles, ms (default 30 000). */
  stopTimeoutMs?: number;
}

/** See the module comment. Create, `enqueue` keys (before or after `start`), `start`, `stop`. */
export class Controller {
  /** Controller name. */
  readonly name: string;
  /** The controller's work queue (exposed for event handlers and tests). */
  readonly queue: WorkQueue;
  private readonly reconcile: Reconciler;
  private readonly log: Logger;
  private readonly workerCount: number;
  private readonly clock: Clock;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly stopTimeoutMs: number;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private started = false;
  private stopping = false;
  private active = 0;

  /** @param options see {@link ControllerOptions}. */
  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconcile = options.reconcile;
    this.log = options.logger.child({ controller: options.name });
    this.workerCount = options.maxConcurrentReconciles ?? 2;
    if (!Number.isInteger(this.workerCount) || this.workerCount < 1) {
      throw new RangeError(`maxConcurrentReconciles must be a positive integer, got ${this.workerCount}`);
    }
    this.clock = options.clock ?? realClock;
    this.metrics = options.metrics?.controller(options.name);
    this.stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.queue = new WorkQueue({
      name: options.name,
      clock: this.clock,
      rateLimiter: options.rateLimiter,
      metrics: options.metrics?.workQueue(options.name),
    });
  }

  /** Queues a reconcile of `key` (deduplicated with any pending one). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Queues a reconcile of `key` after `ms` (the earliest pending delay wins). */
  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  /** Starts the workers. Keys enqueued before are processed now. Idempotent. */
  start(): void {
    if (this.stopping) throw new Error(`controller ${this.name} was stopped and cannot be restarted`);
    if (this.started) return;
    this.started = true;
    this.metrics?.maxConcurrentReconciles(this.workerCount);
    this.metrics?.activeWorkers(0);
    this.log.info({ workerCount: this.workerCount }, 'Starting workers');
    for (let i = 0; i < this.workerCount; i++) this.workers.push(this.runWorker());
  }

  private readonly stopHooks: (() => void)[] = [];

  /** Runs `hook` when the controller stops (e.g. to unsubscribe from an event source feeding it). */
  onStop(hook: () => void): void {
    this.stopHooks.push(hook);
  }

  /**
   * Graceful stop: no new keys are accepted or started, in-flight reconciles
   * may finish. Resolves `true` when they all did within `timeoutMs`; otherwise
   * aborts their `signal` and resolves `false` (they are left to settle alone).
   */
  async stop(timeoutMs: number = this.stopTimeoutMs): Promise<boolean> {
    this.stopping = true;
    for (const hook of this.stopHooks.splice(0)) hook();
    const drained = this.queue.shutDownWithDrain().then(() => Promise.all(this.workers));
    const outcome = await withTimeout(this.clock, drained, timeoutMs);
    if (outcome === TIMED_OUT) {
      this.log.warn({ timeoutMs, inFlight: this.active }, 'Timed out waiting for in-flight reconciles; aborting them');
      this.abort.abort(new Error(`controller ${this.name} stop timed out`));
      return false;
    }
    this.log.info('All workers finished');
    return true;
  }

  private async runWorker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      // The queue still hands out keys queued before shutdown; skip them.
      if (this.stopping) {
        this.queue.done(key);
        continue;
      }
      await this.processKey(key);
    }
  }

  /** Runs one reconcile and routes its outcome; never throws, so workers never die. */
  private async processKey(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const log = this.log.child(namespace === undefined ? { name } : { namespace, name });
    const startedAt = this.clock.now();
    this.setActive(1);
    try {
      let result: ReconcileResult | void;
      try {
        result = await this.reconcile(key, { key, namespace, name, log, signal: this.abort.signal });
      } catch (err) {
        this.handleError(key, err, log);
        return;
      }
      this.handleResult(key, result ?? {}, log);
    } catch (err) {
      // Only a bug in a hook or the queue gets here; keep the worker alive.
      log.error({ err }, 'Unexpected error while handling reconcile outcome');
    } finally {
      this.metrics?.reconcileTime((this.clock.now() - startedAt) / 1000);
      this.setActive(-1);
      this.queue.done(key);
    }
  }

  private handleError(key: string, err: unknown, log: Logger): void {
    this.metrics?.reconcileError();
    this.metrics?.reconcileTotal('error');
    if (isTerminalError(err)) {
      this.metrics?.terminalReconcileError();
      // Retrying cannot fix it; the next change to the object enqueues it again.
      this.queue.forget(key);
      log.error({ err }, 'Reconciler error (terminal, not retried)');
      return;
    }
    this.queue.addRateLimited(key);
    log.error({ err, requeues: this.queue.numRequeues(key) }, 'Reconciler error');
  }

  private handleResult(key: string, result: ReconcileResult, log: Logger): void {
    const after = result.requeueAfter;
    if (after !== undefined && Number.isFinite(after) && after > 0) {
      this.queue.forget(key);
      this.queue.addAfter(key, after);
      this.metrics?.reconcileTotal('requeue_after');
      log.debug({ requeueAfterMs: after }, 'Reconcile done, requeue after delay');
    } else if (result.requeue) {
      this.queue.addRateLimited(key);
      this.metrics?.reconcileTotal('requeue');
      log.debug('Reconcile done, requeue with backoff');
    } else {
      this.queue.forget(key);
      this.metrics?.reconcileTotal('success');
      log.debug('Reconcile succeeded');
    }
  }

  private setActive(delta: number): void {
    this.active += delta;
    this.metrics?.activeWorkers(this.active);
  }
}
