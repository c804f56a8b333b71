/**
 * Rate limiters that decide how long a failed work item waits before it is
 * retried. Shaped after client-go's workqueue rate limiters: a per-item
 * exponential backoff so one broken object backs off on its own, and an
 * overall token bucket so a burst of failures cannot flood the API server.
 */
import { realClock, type Clock } from './clock.js';

/** Decides retry delays for work-queue keys. */
export interface RateLimiter {
  /** Returns the delay in ms before `key` may be retried, and records one more failure. */
  when(key: string): number;
  /** Clears the failure history of `key` (call after it was processed successfully). */
  forget(key: string): void;
  /** How many times `key` has been rate-limited since it was last forgotten. */
  numRequeues(key: string): number;
}

/** Options for {@link ItemExponentialRateLimiter}. */
export interface ExponentialBackoffOptions {
  /** Delay after the first failure, ms (default 5). */
  baseDelayMs?: number;
  /** Upper bound on any delay, ms (default 1 000 000 = 1000 s). */
  maxDelayMs?: number;
}

/**
 * Per-item exponential backoff: base, 2·base, 4·base, … capped at max.
 * Each key keeps its own failure count so unrelated keys are not slowed down.
 */
export class ItemExponentialRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  /** @param options base and max delay; defaults match client-go (5 ms, 1000 s). */
  constructor(options: ExponentialBackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
    if (this.baseDelayMs < 0 || this.maxDelayMs < 0) throw new RangeError('backoff delays must be >= 0');
  }

  /** {@inheritDoc RateLimiter.when} */
  when(key: string): number {
    const exp = this.failures.get(key) ?? 0;
    this.failures.set(key, exp + 1);
    // 2^exp overflows to Infinity long before it matters; the cap keeps it finite.
    const delay = this.baseDelayMs * 2 ** exp;
    return Number.isFinite(delay) ? Math.min(delay, this.maxDelayMs) : this.maxDelayMs;
  }

  /** {@inheritDoc RateLimiter.forget} */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** {@inheritDoc RateLimiter.numRequeues} */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** Options for {@link TokenBucketRateLimiter}. */
export interface TokenBucketOptions {
  /** Sustained rate, tokens per second (default 10). */
  qps?: number;
  /** Bucket size: how many retries may happen back to back (default 100). */
  burst?: number;
  /** Time source (default the real clock). */
  clock?: Clock;
}

/**
 * Overall token bucket shared by all keys. Each `when()` reserves one token;
 * when the bucket is empty the reservation is taken on credit and the caller
 * waits until the token would have been refilled (like Go's rate.Limiter.Reserve).
 */
export class TokenBucketRateLimiter implements RateLimiter {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  /** @param options rate, burst and clock; defaults 10 qps / 100 burst. */
  constructor(options: TokenBucketOptions = {}) {
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.clock = options.clock ?? realClock;
    if (this.qps <= 0 || this.burst < 1) throw new RangeError('token bucket needs qps > 0 and burst >= 1');
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  /** {@inheritDoc RateLimiter.when} */
  when(_key: string): number {
    const now = this.clock.now();
    const elapsedSeconds = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + elapsedSeconds * this.qps);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** No per-key state: forgetting is a no-op. */
  forget(_key: string): void {}

  /** No per-key state: always 0. */
  numRequeues(_key: string): number {
    return 0;
  }
}

/**
 * Combines limiters by taking the longest delay; requeue counts come from the
 * limiter that counts the most (the per-item one in practice).
 */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];

  /** @param limiters at least one limiter. */
  constructor(...limiters: RateLimiter[]) {
    if (limiters.length === 0) throw new RangeError('MaxOfRateLimiter needs at least one limiter');
    this.limiters = limiters;
  }

  /** {@inheritDoc RateLimiter.when} */
  when(key: string): number {
    // Every limiter must see the failure (each keeps its own state), so no short-circuit.
    return this.limiters.map((l) => l.when(key)).reduce((a, b) => Math.max(a, b), 0);
  }

  /** {@inheritDoc RateLimiter.forget} */
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  /** {@inheritDoc RateLimiter.numRequeues} */
  numRequeues(key: string): number {
    return this.limiters.map((l) => l.numRequeues(key)).reduce((a, b) => Math.max(a, b), 0);
  }
}

/** Options for {@link defaultControllerRateLimiter}. */
export interface ControllerRateLimiterOptions extends ExponentialBackoffOptions {
  /** Overall bucket rate; `false` disables the bucket (default 10). */
  qps?: number | false;
  /** Overall bucket burst (default 100). */
  burst?: number;
  /** Time source for the bucket. */
  clock?: Clock;
}

/**
 * The limiter controllers use unless told otherwise: per-item exponential
 * backoff (5 ms … 1000 s) combined with a 10 qps / 100 burst bucket.
 */
export function defaultControllerRateLimiter(options: ControllerRateLimiterOptions = {}): RateLimiter {
  const perItem = new ItemExponentialRateLimiter(options);
  if (options.qps === false) return perItem;
  return new MaxOfRateLimiter(
    perItem,
    new TokenBucketRateLimiter({ qps: options.qps, burst: options.burst, clock: options.clock }),
  );
}
