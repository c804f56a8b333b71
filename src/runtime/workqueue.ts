/**
 * A rate-limited work queue with client-go semantics. Controllers put object
 * keys (`namespace/name`) here from watch events; workers take them out one at
 * a time. The guarantees that make reconcilers simple:
 *
 * - a key is queued at most once, however many events arrive (dirty set);
 * - a key is never handed to two workers at once: if it is added while being
 *   processed it is queued again only after `done(key)`;
 * - failures back off per key (`addRateLimited`), and a delayed add never
 *   postpones an earlier pending one.
 */
import { defaultControllerRateLimiter, type RateLimiter } from './backoff.js';
import { realClock, type CancelTimer, type Clock } from './clock.js';
import { MinHeap } from './min-heap.js';

/**
 * Hooks the queue calls so a metrics backend can record its behaviour without
 * the queue depending on one (see `runtime-metrics.ts` for the Prometheus one).
 */
export interface WorkQueueMetrics {
  /** Number of keys waiting to be handed to a worker changed to `n`. */
  depth(n: number): void;
  /** A key was accepted (it was not already pending). */
  added(): void;
  /** A delayed or rate-limited re-add was requested. */
  retried(): void;
  /** A key waited `seconds` between being added and handed to a worker. */
  queueLatency(seconds: number): void;
  /** A worker held a key for `seconds` between `get()` and `done()`. */
  workDuration(seconds: number): void;
  /**
   * Called once with a reader for the age, in seconds, of the longest-running
   * in-flight key; a gauge can call it at scrape time, which avoids a timer.
   */
  trackLongestRunningProcessor?(read: () => number): void;
}

/** Options for {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Name used for metrics labels and logs (default "workqueue"). */
  name?: string;
  /** Retry delays for `addRateLimited` (default {@link defaultControllerRateLimiter}). */
  rateLimiter?: RateLimiter;
  /** Time source (default the real clock). */
  clock?: Clock;
  /** Metrics hooks (default none). */
  metrics?: WorkQueueMetrics;
}

interface DelayedEntry {
  at: number;
  seq: number;
  key: string;
}

/** See the module comment for the semantics. Keys are strings. */
export class WorkQueue {
  /** Name used for metrics labels. */
  readonly name: string;
  private readonly rateLimiter: RateLimiter;
  private readonly clock: Clock;
  private readonly metrics: WorkQueueMetrics | undefined;

  // FIFO of keys ready to be handed out; `head` avoids O(n) Array.shift().
  private fifo: string[] = [];
  private head = 0;
  // Keys that need processing (queued, or re-added while processing).
  private readonly dirty = new Set<string>();
  // Keys handed to a worker and not yet done, with the time they were handed out.
  private readonly processing = new Map<string, number>();
  // When each dirty key was first added, for the queue-latency metric.
  private readonly addedAt = new Map<string, number>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private shuttingDown = false;

  // Delayed adds: authoritative due time per key; the heap may hold stale entries.
  private readonly delayed = new Map<string, number>();
  private readonly heap = new MinHeap<DelayedEntry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  private seq = 0;
  private timer: { at: number; cancel: CancelTimer } | undefined;

  /** @param options name, rate limiter, clock and metrics hooks. */
  constructor(options: WorkQueueOptions = {}) {
    this.name = options.name ?? 'workqueue';
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter({ clock: this.clock });
    this.metrics = options.metrics;
    this.metrics?.trackLongestRunningProcessor?.(() => this.longestRunningProcessorSeconds());
  }

  /** Queues `key` unless it is already pending or the queue is shut down. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.clock.now());
    this.metrics?.added();
    // A key being processed is only marked dirty; done() will queue it again.
    if (this.processing.has(key)) return;
    this.enqueueReady(key);
  }

  /**
   * Resolves with the next key, waiting if none is ready, or with `undefined`
   * once the queue is shut down and empty. The caller must call `done(key)`.
   */
  get(): Promise<string | undefined> {
    const key = this.shift();
    if (key !== undefined) {
      this.startProcessing(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` as finished; if it was added meanwhile it is queued again now. */
  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics?.workDuration((this.clock.now() - started) / 1000);
    if (this.dirty.has(key)) this.enqueueReady(key);
    if (this.processing.size === 0) this.resolveDrain();
  }

  /**
   * Adds `key` after `ms`. If the key already has a pending delayed add, the
   * earlier of the two wins, so a long periodic resync never hides a short retry.
   */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    this.metrics?.retried();
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined && pending <= at) return;
    this.delayed.set(key, at);
    this.heap.push({ at, seq: this.seq++, key });
    this.armTimer();
  }

  /** Adds `key` after the rate limiter's next delay for it (backoff after a failure). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Resets the backoff of `key` (after a success). Does not remove it from the queue. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** How many rate-limited re-adds `key` has had since it was last forgotten. */
  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** Number of keys ready to be handed out (excludes in-flight and delayed keys). */
  len(): number {
    return this.fifo.length - this.head;
  }

  /** True once `shutDown()` or `shutDownWithDrain()` was called. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops intake: later adds are ignored, delayed adds are dropped and idle
   * `get()` callers receive `undefined`. Keys already queued are still handed
   * out (client-go behaviour), so callers that want to stop early must check.
   */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.delayed.clear();
    this.heap.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(undefined);
    if (this.processing.size === 0) this.resolveDrain();
  }

  /** Shuts down and resolves once every in-flight key has been marked done. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Age in seconds of the oldest in-flight key, 0 if none (for a stuck-worker gauge). */
  longestRunningProcessorSeconds(): number {
    let oldest: number | undefined;
    for (const started of this.processing.values()) {
      if (oldest === undefined || started < oldest) oldest = started;
    }
    return oldest === undefined ? 0 : (this.clock.now() - oldest) / 1000;
  }

  private enqueueReady(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      // Hand the key straight to an idle worker; it never sits in the FIFO.
      this.startProcessing(key);
      waiter(key);
      return;
    }
    this.fifo.push(key);
    this.metrics?.depth(this.len());
  }

  private shift(): string | undefined {
    if (this.head >= this.fifo.length) return undefined;
    const key = this.fifo[this.head++];
    // Compact once the consumed prefix dominates, keeping memory bounded.
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    this.metrics?.depth(this.len());
    return key;
  }

  private startProcessing(key: string): void {
    const now = this.clock.now();
    this.dirty.delete(key);
    this.processing.set(key, now);
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) this.metrics?.queueLatency((now - added) / 1000);
  }

  private resolveDrain(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Keeps exactly one timer armed for the earliest live delayed entry. */
  private armTimer(): void {
    const next = this.peekLive();
    if (!next) {
      this.timer?.cancel();
      this.timer = undefined;
      return;
    }
    if (this.timer && this.timer.at <= next.at) return;
    this.timer?.cancel();
    const at = next.at;
    this.timer = { at, cancel: this.clock.after(at - this.clock.now(), () => this.fireDue()) };
  }

  private fireDue(): void {
    this.timer = undefined;
    const now = this.clock.now();
    for (;;) {
      const next = this.peekLive();
      if (!next || next.at > now) break;
      this.heap.pop();
      this.delayed.delete(next.key);
      this.add(next.key);
    }
    this.armTimer();
  }

  /** Drops stale heap entries (superseded by an earlier add) and returns the live top. */
  private peekLive(): DelayedEntry | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (!top) return undefined;
      if (this.delayed.get(top.key) === top.at) return top;
      this.heap.pop();
    }
  }
}
