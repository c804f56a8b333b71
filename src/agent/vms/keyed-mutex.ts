/**
 * One operation at a time per key (per VM): two concurrent requests for the
 * same VM must not both see "not defined yet" and both call define, or race
 * a start against a stop.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier call for `key` has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Forget the key once nobody queued behind us, so the map does not grow with every VM ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
