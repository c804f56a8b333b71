/**
 * A small unbounded queue that one consumer reads with `for await`. It sits
 * between a child process's output (pushed as it arrives) and the
 * `AsyncIterable` the driver interface returns.
 *
 * @packageDocumentation
 */

/** Push-side producer, pull-side async iterator; a single consumer. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T, undefined>) => void) | undefined;
  private closed = false;

  /** Adds an item; ignored after {@link close}. */
  push(item: T): void {
    if (this.closed) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** Ends iteration once the buffered items are read. */
  close(): void {
    this.closed = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  /** The next item, or `done` once closed and drained. */
  next(): Promise<IteratorResult<T, undefined>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}
