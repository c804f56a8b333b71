/**
 * Lease-based leader election, following client-go's leaderelection package
 * but independent of any Kubernetes client: it reads and writes the lease
 * through a {@link LeaseStore} (the kube adapter maps it to a
 * coordination.k8s.io/v1 Lease).
 *
 * Safety rests on two rules taken from client-go:
 * - expiry is judged with the local clock, from the moment this candidate last
 *   saw the record change, never from the remote `renewTime` (clocks of
 *   different machines may disagree);
 * - a leader that cannot renew within `renewDeadline` (< `leaseDuration`)
 *   stops leading before any other candidate can consider the lease expired.
 */
import pino, { type Logger } from 'pino';
import { realClock, sleep, TIMED_OUT, withTimeout, type Clock } from './clock.js';
import { isConflictError } from './errors.js';

/** The lease as the elector sees it (a Lease's spec plus its resourceVersion). */
export interface LeaseRecord {
  /** Current holder; empty or absent when released. */
  holderIdentity?: string;
  /** How long the holder's claim lasts after each renewal, seconds (may be fractional in tests). */
  leaseDurationSeconds: number;
  /** When the current holder acquired it. */
  acquireTime?: Date;
  /** When the current holder last renewed it. */
  renewTime?: Date;
  /** How many times the holder changed. */
  leaseTransitions: number;
  /** Optimistic-concurrency token from the store; passed back on update. */
  resourceVersion?: string;
}

/**
 * Storage for one lease. Writes that lose a race (stale `resourceVersion`, or
 * create of an existing lease) must throw a `ConflictError` from `errors.ts`.
 */
export interface LeaseStore {
  /** The current record, or undefined if the lease does not exist. */
  get(): Promise<LeaseRecord | undefined>;
  /** Creates the lease; ConflictError if it exists. */
  create(record: LeaseRecord): Promise<void>;
  /** Replaces the lease if its resourceVersion still is `resourceVersion`; ConflictError otherwise. */
  update(record: LeaseRecord, resourceVersion: string | undefined): Promise<void>;
}

/** What the elector tells its owner. */
export interface LeaderCallbacks {
  /**
   * This candidate became leader. `signal` aborts when leadership ends. If a
   * promise is returned, a graceful `stop()` waits for it before releasing the
   * lease, so leader-only work never overlaps with the next leader's.
   */
  onStartedLeading?(signal: AbortSignal): void | Promise<void>;
  /** Leadership ended (lost, or stopped after having led). Typically the process exits. */
  onStoppedLeading?(): void;
  /** Another (or this) identity was observed as the holder. */
  onNewLeader?(identity: string): void;
  /**
   * The lease was acquired or renewed by a write that started at `atMs`
   * (clock milliseconds): leadership is good until `atMs + renewDeadline`.
   */
  onRenewed?(atMs: number): void;
}

/** Hook for the `leader_election_master_status` gauge. */
export interface LeaderElectionMetrics {
  /** Leadership state changed. */
  leading(isLeader: boolean): void;
}

/** Options for {@link LeaderElector}. */
export interface LeaderElectorOptions {
  /** Unique identity of this candidate (e.g. pod name + random suffix). */
  identity: string;
  /** Where the lease lives. */
  store: LeaseStore;
  /** Lease name for logs (default "leader"). */
  name?: string;
  /** How long a claim lasts without renewal, ms (default 15 000). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failed renewal before giving up, ms (default 10 000). */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts, ms (default 2 000). */
  retryPeriodMs?: number;
  /** Owner callbacks. */
  callbacks?: LeaderCallbacks;
  /** Release the lease on `stop()` so a successor takes over at once (default true). */
  releaseOnStop?: boolean;
  /** Time source (default the real clock). */
  clock?: Clock;
  /** Logger (default silent). */
  logger?: Logger;
  /** Metrics hook (default none). */
  metrics?: LeaderElectionMetrics;
  /** Random source in [0, 1) for retry jitter (default Math.random). */
  random?: () => number;
}

/** client-go's JitterFactor: acquire retries wait retryPeriod × [1, 2.2). */
export const JITTER_FACTOR = 1.2;

function sameRecord(a: LeaseRecord, b: LeaseRecord | undefined): boolean {
  if (!b) return false;
  if (a.resourceVersion !== undefined && b.resourceVersion !== undefined) return a.resourceVersion === b.resourceVersion;
  return (
    (a.holderIdentity ?? '') === (b.holderIdentity ?? '') &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.leaseTransitions === b.leaseTransitions &&
    a.acquireTime?.getTime() === b.acquireTime?.getTime() &&
    a.renewTime?.getTime() === b.renewTime?.getTime()
  );
}

/**
 * One candidate. `start()` runs: acquire (retrying with jitter) → lead and
 * renew every retryPeriod → end, either because renewal failed for
 * renewDeadline (lost) or because `stop()` was called (released by default).
 * An elector runs once; after it ends, create a new one to campaign again.
 */
export class LeaderElector {
  /** This candidate's identity. */
  readonly identity: string;
  /** Resolves when the elector has ended (stopped, or leadership lost). */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly store: LeaseStore;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly callbacks: LeaderCallbacks;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: LeaderElectionMetrics | undefined;
  private readonly random: () => number;
  private releaseOnStop: boolean;

  private readonly stopRequested = new AbortController();
  private leadership: AbortController | undefined;
  private leaderWork: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private leading = false;
  private released = false;
  private lastRenew = 0;
  private observed: LeaseRecord | undefined;
  private observedTime = 0;

  /** @param options see {@link LeaderElectorOptions}; throws on inconsistent durations. */
  constructor(options: LeaderElectorOptions) {
    if (!options.identity) throw new Error('leader election requires a non-empty identity');
    this.identity = options.identity;
    this.store = options.store;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    // Same invariants client-go enforces: without them a leader could still act
    // after a successor legitimately took over.
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) throw new RangeError('leaseDuration must be greater than renewDeadline');
    if (!(this.renewDeadlineMs > JITTER_FACTOR * this.retryPeriodMs)) {
      throw new RangeError(`renewDeadline must be greater than ${JITTER_FACTOR} × retryPeriod`);
    }
    if (!(this.retryPeriodMs > 0)) throw new RangeError('retryPeriod must be positive');
    this.callbacks = options.callbacks ?? {};
    this.releaseOnStop = options.releaseOnStop ?? true;
    this.clock = options.clock ?? realClock;
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ lease: options.name ?? 'leader', identity: options.identity });
    this.metrics = options.metrics;
    this.random = options.random ?? Math.random;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Starts campaigning in the background. Idempotent. */
  start(): void {
    if (this.running) return;
    this.metrics?.leading(false);
    this.running = this.run().finally(() => this.resolveDone());
  }

  /**
   * True while this candidate leads. Also false once the last successful
   * renewal is older than renewDeadline, so a stalled event loop cannot make
   * a stale leader act before its renew loop notices.
   */
  isLeader(): boolean {
    return this.leading && this.clock.now() - this.lastRenew < this.renewDeadlineMs;
  }

  /** The holder this candidate last observed (may be itself), if any. */
  leader(): string | undefined {
    return this.observed?.holderIdentity || undefined;
  }

  /**
   * Stops campaigning/renewing. If leading: aborts the leadership signal, waits
   * for the `onStartedLeading` promise, releases the lease (unless
   * `release: false`, e.g. to simulate a crash) and calls `onStoppedLeading`.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (options.release !== undefined) this.releaseOnStop = options.release;
    this.stopRequested.abort();
    if (this.running) await this.running;
    else this.resolveDone();
  }

  /**
   * Graceful hand-over: stops (if running) and writes an empty holder with a
   * 1 s duration so another candidate takes over on its next retry. Resolves
   * true if this call or the stop released a lease we held.
   */
  async release(): Promise<boolean> {
    if (this.running && !this.stopRequested.signal.aborted) {
      await this.stop({ release: true });
      return this.released;
    }
    return this.releaseLease();
  }

  private async run(): Promise<void> {
    this.log.info('Attempting to acquire leader lease');
    const acquired = await this.acquireLoop();
    if (!acquired) return;
    if (this.stopRequested.signal.aborted) {
      // Won the lease while being stopped: hand it straight back without leading.
      if (this.releaseOnStop) await this.releaseLease();
      return;
    }
    this.becomeLeader();
    const outcome = await this.renewLoop();
    this.leading = false;
    this.metrics?.leading(false);
    this.leadership?.abort();
    if (outcome === 'lost') {
      this.log.error('Failed to renew leader lease within the renew deadline; stopped leading');
    } else {
      // Let leader-only work finish before a successor can start it again.
      await this.leaderWork;
      if (this.releaseOnStop) await this.releaseLease();
      this.log.info('Stopped leading');
    }
    this.safeCall(() => this.callbacks.onStoppedLeading?.());
  }

  private async acquireLoop(): Promise<boolean> {
    const stop = this.stopRequested.signal;
    while (!stop.aborted) {
      if (await this.attempt()) return true;
      await sleep(this.clock, this.retryPeriodMs * (1 + this.random() * JITTER_FACTOR), stop);
    }
    return false;
  }

  private becomeLeader(): void {
    this.leading = true;
    this.lastRenew = this.clock.now();
    this.safeCall(() => this.callbacks.onRenewed?.(this.lastRenew));
    this.metrics?.leading(true);
    this.log.info('Successfully acquired leader lease');
    const leadership = new AbortController();
    this.leadership = leadership;
    try {
      const work = this.callbacks.onStartedLeading?.(leadership.signal);
      this.leaderWork = Promise.resolve(work).catch((err: unknown) => {
        this.log.error({ err }, 'onStartedLeading failed');
      });
    } catch (err) {
      this.log.error({ err }, 'onStartedLeading failed');
    }
  }

  private async renewLoop(): Promise<'lost' | 'stopped'> {
    const stop = this.stopRequested.signal;
    for (;;) {
      await sleep(this.clock, this.retryPeriodMs, stop);
      if (stop.aborted) return 'stopped';
      const remaining = this.lastRenew + this.renewDeadlineMs - this.clock.now();
      if (remaining <= 0) return 'lost';
      const attemptStart = this.clock.now();
      const ok = await this.attempt(remaining);
      if (stop.aborted) return 'stopped';
      if (ok) {
        // The write happened after attemptStart, so successors measure expiry from
        // a later instant than this: counting from here is conservative.
        this.lastRenew = attemptStart;
        this.safeCall(() => this.callbacks.onRenewed?.(attemptStart));
        continue;
      }
      const holder = this.observed?.holderIdentity;
      if (holder && holder !== this.identity) return 'lost';
      if (this.clock.now() - this.lastRenew >= this.renewDeadlineMs) return 'lost';
    }
  }

  /** One tryAcquireOrRenew bounded in time, so a hung store call cannot stall the loop. */
  private async attempt(timeoutMs: number = this.renewDeadlineMs): Promise<boolean> {
    const result = await withTimeout(this.clock, this.tryAcquireOrRenew(), timeoutMs);
    if (result === TIMED_OUT) {
      this.log.warn({ timeoutMs }, 'Leader lease request timed out');
      return false;
    }
    return result;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    let current: LeaseRecord | undefined;
    try {
      current = await this.store.get();
    } catch (err) {
      this.log.warn({ err }, 'Error retrieving leader lease');
      return false;
    }

    if (!current) {
      const record: LeaseRecord = {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseDurationMs / 1000,
        acquireTime: new Date(now),
        renewTime: new Date(now),
        leaseTransitions: 0,
      };
      if (!(await this.write(() => this.store.create(record), 'create'))) return false;
      this.observe(record);
      return true;
    }

    if (!sameRecord(current, this.observed)) this.observe(current);
    const holder = current.holderIdentity ?? '';
    const durationMs = current.leaseDurationSeconds > 0 ? current.leaseDurationSeconds * 1000 : this.leaseDurationMs;
    if (holder !== '' && holder !== this.identity && this.observedTime + durationMs > this.clock.now()) {
      return false; // held by someone else and not yet expired by our own clock
    }

    const ours = holder === this.identity;
    const record: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      acquireTime: ours ? (current.acquireTime ?? new Date(now)) : new Date(now),
      renewTime: new Date(now),
      leaseTransitions: ours ? current.leaseTransitions : current.leaseTransitions + 1,
    };
    if (!(await this.write(() => this.store.update(record, current.resourceVersion), 'update'))) return false;
    this.observe(record);
    return true;
  }

  /** Runs a store write; conflicts are an expected race outcome, other errors are logged louder. */
  private async write(op: () => Promise<void>, verb: string): Promise<boolean> {
    try {
      await op();
      return true;
    } catch (err) {
      if (isConflictError(err)) this.log.debug({ verb }, 'Leader lease changed concurrently; will retry');
      else this.log.warn({ err, verb }, 'Error writing leader lease');
      return false;
    }
  }

  private observe(record: LeaseRecord): void {
    const previous = this.observed?.holderIdentity;
    this.observed = record;
    this.observedTime = this.clock.now();
    const holder = record.holderIdentity;
    if (holder && holder !== previous) {
      this.log.info({ holder }, 'New leader observed');
      this.safeCall(() => this.callbacks.onNewLeader?.(holder));
    }
  }

  private async releaseLease(): Promise<boolean> {
    try {
      const current = await this.store.get();
      if (!current || current.holderIdentity !== this.identity) return false;
      const now = new Date(this.clock.now());
      const record: LeaseRecord = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: current.leaseTransitions,
      };
      await this.store.update(record, current.resourceVersion);
      this.observe(record);
      this.released = true;
      this.log.info('Released leader lease');
      return true;
    } catch (err) {
      this.log.warn({ err }, 'Failed to release leader lease');
      return false;
    }
  }

  private safeCall(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'Leader election callback failed');
    }
  }
}
