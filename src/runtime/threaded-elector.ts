/**
 * Leader election on its own thread, so a busy main event loop cannot starve
 * the Lease renewal.
 *
 * Why: the operator's reconcilers, informers and agent links share one event
 * loop. Under overload (the scale benchmark's churn: 20 creates and 20
 * deletes a second on 2 cores) that loop answered nothing for 15 s and the
 * renewal, queued behind the work, passed its renew deadline: the leader
 * exited in the middle of the load it was shedding. client-go renews from
 * its own goroutine; a worker thread is the Node.js counterpart. It has its
 * own event loop and its own connection to the API server, so it renews as
 * long as the process gets CPU at all.
 *
 * The split:
 * - the worker runs a {@link LeaderElector} and owns the Lease;
 * - the main thread ({@link ThreadedLeaderElector}) runs the leader-only work
 *   and reads the last renewal time from shared memory, without waiting for
 *   a message, so `isLeader()` is never more optimistic than the worker;
 * - the main thread says "alive" every half retry period. A main thread that
 *   has not said so for `stallLimitMs` is hung rather than busy: the worker
 *   then stops renewing (its store refuses), so a hung leader loses the Lease
 *   after the renew deadline as it did before, and a successor takes over.
 *
 * The messages are the same whatever carries them (a Worker's port in the
 * operator, a MessageChannel in unit tests).
 *
 * @packageDocumentation
 */
import type { LeaderCallbacks, LeaderElector, LeaseRecord, LeaseStore } from './leader-election.js';
import { realClock, type Clock } from './clock.js';

/** Main thread → worker. */
export type ToElectorWorker =
  | { t: 'alive' }
  /** The leader-only work started by `started` has finished (after `abort`, or by itself). */
  | { t: 'work-done' }
  | { t: 'stop'; release: boolean };

/** Worker → main thread. */
export type FromElectorWorker =
  /** Became leader: start the leader-only work. */
  | { t: 'started' }
  /** Leadership is ending: stop the leader-only work and answer `work-done`. */
  | { t: 'abort' }
  | { t: 'new-leader'; identity: string }
  /** Leadership ended (lost, or stopped after having led). */
  | { t: 'stopped' }
  /** The elector has ended; the worker exits. */
  | { t: 'done' };

/** The part of a MessagePort / Worker both sides use. */
export interface ElectorPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/** The worker's end of the channel: it also hears the other end going away. */
export interface ElectorServerPort extends ElectorPort {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

/** Slots of the shared renewal record (a BigInt64Array over a SharedArrayBuffer). */
const LAST_RENEW = 0;
const LEADING = 1;

/** Shared memory for the renewal record: pass it to both sides. */
export function createRenewalRecord(): BigInt64Array {
  return new BigInt64Array(new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT));
}

/**
 * A store that refuses every call while `stalled()` says so. The worker wraps
 * its Lease store in it: a hung main thread makes renewals fail, and the
 * elector then gives the Lease up through its ordinary renew-deadline path.
 */
export class StallGuardedStore implements LeaseStore {
  constructor(
    private readonly inner: LeaseStore,
    private readonly stalled: () => boolean,
  ) {}

  private check(): void {
    if (this.stalled()) throw new Error('the main thread has not answered within the stall limit; not renewing the leader lease');
  }

  async get(): Promise<LeaseRecord | undefined> {
    this.check();
    return this.inner.get();
  }

  async create(record: LeaseRecord): Promise<void> {
    this.check();
    return this.inner.create(record);
  }

  async update(record: LeaseRecord, resourceVersion: string | undefined): Promise<void> {
    this.check();
    return this.inner.update(record, resourceVersion);
  }
}

/** Options for {@link serveElector}. */
export interface ServeElectorOptions {
  /** The channel to the main thread. */
  port: ElectorServerPort;
  /** The renewal record shared with the main thread. */
  renewal: BigInt64Array;
  /** Builds the elector with the callbacks this side needs; `stalled` is for {@link StallGuardedStore}. */
  createElector(callbacks: LeaderCallbacks, stalled: () => boolean): LeaderElector;
  /** How long the main thread may stay silent before it counts as hung, ms. */
  stallLimitMs: number;
  /** Called once the elector has ended and `done` was sent (the worker closes its port). */
  onDone?(): void;
  /** Time source (default the real clock). */
  clock?: Clock;
}

/**
 * The worker side: runs the elector and relays its callbacks. Returns the
 * elector (already started).
 */
export function serveElector(options: ServeElectorOptions): LeaderElector {
  const { port, renewal, stallLimitMs } = options;
  const clock = options.clock ?? realClock;
  let lastAlive = clock.now();
  let workDone: (() => void) | undefined;
  const send = (message: FromElectorWorker): void => port.postMessage(message);

  const callbacks: LeaderCallbacks = {
    onStartedLeading: (signal) => {
      Atomics.store(renewal, LEADING, 1n);
      const done = new Promise<void>((resolve) => (workDone = resolve));
      signal.addEventListener('abort', () => send({ t: 'abort' }), { once: true });
      send({ t: 'started' });
      return done;
    },
    onStoppedLeading: () => {
      Atomics.store(renewal, LEADING, 0n);
      send({ t: 'stopped' });
    },
    onNewLeader: (identity) => send({ t: 'new-leader', identity }),
    onRenewed: (atMs) => {
      Atomics.store(renewal, LAST_RENEW, BigInt(Math.floor(atMs)));
    },
  };
  const elector = options.createElector(callbacks, () => clock.now() - lastAlive > stallLimitMs);

  let stopping = false;
  port.on('message', (raw) => {
    const message = raw as ToElectorWorker;
    if (message.t === 'alive') lastAlive = clock.now();
    else if (message.t === 'work-done') workDone?.();
    else if (message.t === 'stop' && !stopping) {
      stopping = true;
      void elector.stop({ release: message.release });
    }
  });
  // With the main thread gone no leader work runs any more: a stop need not wait for it.
  port.on('close', () => workDone?.());
  void elector.done.then(() => {
    // A lost lease ends leadership without waiting for the work; clear the flag in every case.
    Atomics.store(renewal, LEADING, 0n);
    send({ t: 'done' });
    options.onDone?.();
  });
  elector.start();
  return elector;
}

/** The main thread's view of a worker: a port plus the worker's end. */
export interface ElectorWorker extends ElectorPort {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
}

/** Options for {@link ThreadedLeaderElector}. */
export interface ThreadedLeaderElectorOptions {
  /** The worker running {@link serveElector} (or a test's port pair). */
  worker: ElectorWorker;
  /** The renewal record shared with the worker. */
  renewal: BigInt64Array;
  /** The elector's renew deadline, ms: leadership counts only this long after the last renewal. */
  renewDeadlineMs: number;
  /** The elector's retry period, ms: "alive" goes out every half of it. */
  retryPeriodMs: number;
  /** Owner callbacks, as for {@link LeaderElector}. */
  callbacks?: LeaderCallbacks;
  /** Time source (default the real clock). */
  clock?: Clock;
  /** Called when the worker fails (an error or an exit before `done`). */
  onWorkerFailure?(error: Error): void;
}

/**
 * The main-thread side, with the parts of {@link LeaderElector}'s interface
 * the operator uses: `start`, `stop`, `isLeader`, `done`.
 */
export class ThreadedLeaderElector {
  /** Resolves when the worker's elector has ended. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly clock: Clock;
  private readonly callbacks: LeaderCallbacks;
  private leadership: AbortController | undefined;
  private aliveTimer: ReturnType<typeof setInterval> | undefined;
  private started = false;
  private ended = false;
  private stoppedLeadingCalled = false;

  constructor(private readonly options: ThreadedLeaderElectorOptions) {
    this.clock = options.clock ?? realClock;
    this.callbacks = options.callbacks ?? {};
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Starts listening to the worker and saying "alive". Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { worker } = this.options;
    worker.on('message', (raw) => this.onMessage(raw as FromElectorWorker));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`leader election worker exited with code ${code}`)));
    const say = (): void => worker.postMessage({ t: 'alive' } satisfies ToElectorWorker);
    say();
    this.aliveTimer = setInterval(say, Math.max(1, Math.floor(this.options.retryPeriodMs / 2)));
    this.aliveTimer.unref?.();
  }

  /**
   * True while the worker leads and its last renewal is younger than the
   * renew deadline, read from shared memory (no message round trip).
   */
  isLeader(): boolean {
    const { renewal, renewDeadlineMs } = this.options;
    if (Atomics.load(renewal, LEADING) !== 1n) return false;
    return this.clock.now() - Number(Atomics.load(renewal, LAST_RENEW)) < renewDeadlineMs;
  }

  /** Asks the worker to stop (releasing the Lease by default) and waits until it has. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (!this.started || this.ended) {
      this.finish();
      return;
    }
    this.options.worker.postMessage({ t: 'stop', release: options.release ?? true } satisfies ToElectorWorker);
    await this.done;
  }

  private onMessage(message: FromElectorWorker): void {
    switch (message.t) {
      case 'started':
        this.lead();
        break;
      case 'abort':
        this.leadership?.abort();
        break;
      case 'new-leader':
        this.safeCall(() => this.callbacks.onNewLeader?.(message.identity));
        break;
      case 'stopped':
        this.stoppedLeading();
        break;
      case 'done':
        this.finish();
        break;
    }
  }

  private lead(): void {
    const leadership = new AbortController();
    this.leadership = leadership;
    let work: Promise<void>;
    try {
      work = Promise.resolve(this.callbacks.onStartedLeading?.(leadership.signal));
    } catch (error) {
      work = Promise.reject(error);
    }
    // Whatever the work's outcome, the worker may release the Lease only after it.
    void work
      .catch(() => undefined)
      .then(() => {
        if (!this.ended) this.options.worker.postMessage({ t: 'work-done' } satisfies ToElectorWorker);
      });
  }

  private stoppedLeading(): void {
    this.leadership?.abort();
    if (this.stoppedLeadingCalled) return;
    this.stoppedLeadingCalled = true;
    this.safeCall(() => this.callbacks.onStoppedLeading?.());
  }

  /** The worker died: whatever it held is no longer renewed, so leadership ends here too. */
  private fail(error: Error): void {
    if (this.ended) return;
    Atomics.store(this.options.renewal, LEADING, 0n);
    this.options.onWorkerFailure?.(error);
    // A standby whose election thread died could never lead again: its owner hears "stopped" too.
    this.stoppedLeading();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.aliveTimer) clearInterval(this.aliveTimer);
    this.resolveDone();
  }

  private safeCall(fn: () => void): void {
    try {
      fn();
    } catch {
      /* the owner's callback failing must not stop message handling */
    }
  }
}
