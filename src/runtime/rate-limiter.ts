/**
 * Client-side limit on requests to the API server: client-go's QPS and burst
 * (a token bucket). It guards the cluster against a controller gone wrong —
 * a reconcile that writes on every pass would otherwise write as fast as the
 * API server answers — and costs nothing while requests stay below the rate.
 * Waiters are served in arrival order, so a long queue cannot starve one.
 */
import { realClock, type Clock } from './clock.js';

/** Longest single timer Node.js honours (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Monotonic time for the bucket: a wall-clock step backwards must not stall every request. */
const monotonicClock: Clock = { now: () => performance.now(), after: (ms, fn) => realClock.after(ms, fn) };

/** What a request waits on before it is sent. */
export interface RequestLimiter {
  /** Resolves when the request may go; with the milliseconds it waited. */
  take(): Promise<number>;
}

/** A token bucket: `burst` requests at once, then `qps` per second. */
export class TokenBucket implements RequestLimiter {
  private tokens: number;
  private last: number;
  private readonly waiters: Array<{ since: number; resolve: (waitedMs: number) => void }> = [];
  private timerSet = false;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly clock: Clock = monotonicClock,
  ) {
    if (!(qps >= 0.001) || !Number.isFinite(qps)) throw new RangeError(`qps must be a number of at least 0.001, got ${qps}`);
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be a positive integer, got ${burst}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  take(): Promise<number> {
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve(0);
    }
    return new Promise((resolve) => {
      this.waiters.push({ since: this.clock.now(), resolve });
      this.schedule();
    });
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.waiters.length;
  }

  private refill(): void {
    const now = this.clock.now();
    // A clock that went back refills nothing for the step and counts on from where it is now, owing nothing.
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) * this.qps) / 1000);
    this.last = now;
  }

  private schedule(): void {
    if (this.timerSet) return;
    this.timerSet = true;
    const ms = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.qps)));
    this.clock.after(ms, () => {
      this.timerSet = false;
      this.refill();
      while (this.waiters.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        const w = this.waiters.shift()!;
        w.resolve(this.clock.now() - w.since);
      }
      if (this.waiters.length > 0) this.schedule();
    });
  }
}

/** No limit (benchmarks and tools that must not be slowed). */
export const unlimited: RequestLimiter = { take: () => Promise.resolve(0) };
