/**
 * Client-side limit on requests to the API server: client-go's QPS and burst
 * (a token bucket). It guards the cluster against a controller gone wrong —
 * a reconcile that writes on every pass would otherwise write as fast as the
 * API server answers — and costs nothing while requests stay below the rate.
 *
 * The bucket is the work queue's own {@link TokenBucketRateLimiter}: each
 * request reserves a token, on credit when there is none, and waits until it
 * would have been refilled (Go's rate.Limiter.Wait). Reservations are taken
 * in arrival order, so waiters are served in arrival order too.
 */
import { TokenBucketRateLimiter } from './backoff.js';
import { realClock, sleep, type Clock } from './clock.js';

/** Longest single timer Node.js honours (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Monotonic time for the bucket: a wall-clock step backwards must not stall every request. */
const monotonicClock: Clock = { now: () => performance.now(), after: (ms, fn) => realClock.after(ms, fn) };

/** The bucket's one key: the limit is shared by every request. */
const ALL = 'all';

/** What a request waits on before it is sent. */
export interface RequestLimiter {
  /** Resolves when the request may go; with the milliseconds it waited. */
  take(): Promise<number>;
}

/** A token bucket: `burst` requests at once, then `qps` per second. */
export class TokenBucket implements RequestLimiter {
  private readonly bucket: TokenBucketRateLimiter;
  private sleepers = 0;

  constructor(
    qps: number,
    burst: number,
    private readonly clock: Clock = monotonicClock,
  ) {
    if (!(qps >= 0.001) || !Number.isFinite(qps)) throw new RangeError(`qps must be a number of at least 0.001, got ${qps}`);
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be a positive integer, got ${burst}`);
    this.bucket = new TokenBucketRateLimiter({ qps, burst, clock });
  }

  async take(): Promise<number> {
    const delay = Math.ceil(this.bucket.when(ALL));
    if (delay <= 0) return 0;
    this.sleepers += 1;
    try {
      // In steps Node.js timers can hold: a longer timer would fire at once.
      for (let left = delay; left > 0; left -= MAX_TIMER_MS) await sleep(this.clock, Math.min(left, MAX_TIMER_MS));
    } finally {
      this.sleepers -= 1;
    }
    return delay;
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.sleepers;
  }
}

/** No limit (benchmarks and tools that must not be slowed). */
export const unlimited: RequestLimiter = { take: () => Promise.resolve(0) };
