/**
 * Time source for the runtime. Queues, rate limiters and the leader elector read
 * time and schedule callbacks only through this interface so unit tests can
 * drive them with {@link FakeClock} instead of sleeping.
 */

/** Cancels a timer created by {@link Clock.after}; calling it twice is harmless. */
export type CancelTimer = () => void;

/** A source of monotonic-enough milliseconds and one-shot timers. */
export interface Clock {
  /** Current time in milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; returns a handle that cancels it. */
  after(ms: number, fn: () => void): CancelTimer;
}

/** The real clock: `Date.now()` and `setTimeout`. */
export const realClock: Clock = {
  now: () => Date.now(),
  after(ms: number, fn: () => void): CancelTimer {
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  },
};

/**
 * Resolves after `ms` on `clock`, or early (without rejecting) when `signal`
 * aborts, so loops can sleep and still stop promptly on shutdown.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      cancel();
      resolve();
    };
    const cancel = clock.after(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A manually advanced clock for tests. Timers fire synchronously inside
 * {@link FakeClock.advance}, in due-time order, so time-dependent logic can be
 * checked without real waiting.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  /** @param start initial time in ms (default 0). */
  constructor(start = 0) {
    this.current = start;
  }

  /** {@inheritDoc Clock.now} */
  now(): number {
    return this.current;
  }

  /** {@inheritDoc Clock.after} */
  after(ms: number, fn: () => void): CancelTimer {
    const timer: FakeTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that becomes due, including
   * timers scheduled by callbacks while advancing (as real timers would).
   */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = target;
  }

  private nextDue(target: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) {
      if (t.at > target) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Marker returned by {@link withTimeout} when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Waits for `promise` at most `ms`. Resolves with its value, or with
 * {@link TIMED_OUT} (the promise keeps running; its outcome is ignored).
 * Rejections pass through. The timer is cancelled so it never holds the process open.
 */
export async function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let cancel: CancelTimer | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    cancel = clock.after(ms, () => resolve(TIMED_OUT));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    cancel?.();
  }
}
