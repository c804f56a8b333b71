/**
 * Lifecycle events of one simulated host, fanned out to every open
 * events() stream after the configured delivery delay, in the order they
 * happened.
 *
 * @packageDocumentation
 */
import type { DomainEvent } from '../driver.js';
import { AsyncQueue } from '../libvirt/async-queue.js';

/** Fan-out of a host's lifecycle events to its subscribers. */
export class SimulatedEventBus {
  private readonly subscribers = new Set<AsyncQueue<DomainEvent>>();
  /** Events not yet delivered, oldest first, each with its delivery time. */
  private readonly pending: { at: number; e: DomainEvent }[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** @param delayMs how long an event takes to reach subscribers (read at each emit). */
  constructor(private readonly delayMs: () => number) {}

  /** Publishes an event stamped now; subscribers get it after the delay. */
  emit(uuid: string, name: string, event: string, detail: string): void {
    const e: DomainEvent = { uuid, name, event, detail, time: new Date().toISOString() };
    const last = this.pending.at(-1)?.at ?? 0;
    // Never before an earlier event: one queue, one timer, delivered in order.
    this.pending.push({ at: Math.max(performance.now() + this.delayMs(), last), e });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const next = this.pending[0];
    if (next === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      while (this.pending[0] !== undefined && this.pending[0].at <= now) {
        const { e } = this.pending.shift()!;
        for (const q of this.subscribers) q.push({ ...e });
      }
      this.schedule();
    }, Math.max(0, next.at - performance.now()));
  }

  /** Events from now until `signal` aborts (or the consumer stops iterating). */
  async *stream(signal: AbortSignal): AsyncGenerator<DomainEvent, void, undefined> {
    const queue = new AsyncQueue<DomainEvent>();
    const close = (): void => queue.close();
    this.subscribers.add(queue);
    signal.addEventListener('abort', close, { once: true });
    if (signal.aborted) close();
    try {
      for (;;) {
        const r = await queue.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      this.subscribers.delete(queue);
      signal.removeEventListener('abort', close);
    }
  }
}
