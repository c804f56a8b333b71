/**
 * At most `limit` holders per key at once; the rest wait in arrival order.
 * The VM reconciler uses it to bound how many domains one host is asked to
 * define and start at the same time, so a burst of VMs queues in the
 * operator (cheap) instead of in libvirtd, where every start slows down and
 * calls pass the operator's agent timeout.
 */
export class KeyedSemaphore {
  private readonly states = new Map<string, { active: number; waiting: Array<() => void> }>();

  /** @throws RangeError unless `limit` is a positive integer. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /** Runs `fn` once fewer than `limit` earlier calls for `key` are still running. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let state = this.states.get(key);
    if (!state) {
      state = { active: 0, waiting: [] };
      this.states.set(key, state);
    }
    if (state.active >= this.limit) {
      await new Promise<void>((resolve) => state.waiting.push(resolve));
    } else {
      state.active += 1;
    }
    try {
      return await fn();
    } finally {
      const next = state.waiting.shift();
      // The slot passes straight to the next waiter, so `active` stays counted.
      if (next) next();
      else {
        state.active -= 1;
        if (state.active === 0) this.states.delete(key);
      }
    }
  }

  /** Holders and waiters of `key` (for tests and metrics). */
  usage(key: string): { active: number; waiting: number } {
    const s = this.states.get(key);
    return { active: s?.active ?? 0, waiting: s?.waiting.length ?? 0 };
  }
}
