/**
 * A binary min-heap. The work queue keeps delayed keys here so finding the
 * next due key stays O(log n) even with thousands of periodic resyncs pending.
 */
export class MinHeap<T> {
  private readonly items: T[] = [];

  /** @param less strict ordering: true when `a` must come out before `b`. */
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  /** Number of entries. */
  get size(): number {
    return this.items.length;
  }

  /** The smallest entry without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an entry. */
  push(item: T): void {
    this.items.push(item);
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.at(i), this.at(parent))) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the smallest entry. */
  pop(): T | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last !== undefined) {
      this.items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Removes every entry. */
  clear(): void {
    this.items.length = 0;
  }

  private siftDown(start: number): void {
    let i = start;
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && this.less(this.at(l), this.at(smallest))) smallest = l;
      if (r < n && this.less(this.at(r), this.at(smallest))) smallest = r;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private at(i: number): T {
    // Callers only pass in-range indices; the cast satisfies noUncheckedIndexedAccess.
    return this.items[i] as T;
  }

  private swap(a: number, b: number): void {
    const tmp = this.at(a);
    this.items[a] = this.at(b);
    this.items[b] = tmp;
  }
}
