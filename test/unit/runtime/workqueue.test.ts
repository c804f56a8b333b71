import { describe, expect, it } from '@jest/globals';
import { ItemExponentialRateLimiter } from '../../../src/runtime/backoff.js';
import { FakeClock } from '../../../src/runtime/clock.js';
import { WorkQueue, type WorkQueueMetrics } from '../../../src/runtime/workqueue.js';

function newQueue(clock = new FakeClock()): { q: WorkQueue; clock: FakeClock } {
  return { q: new WorkQueue({ name: 'test', clock, rateLimiter: new ItemExponentialRateLimiter() }), clock };
}

describe('WorkQueue', () => {
  it('queues a key at most once while it waits', async () => {
    const { q } = newQueue();
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('re-queues a key added during processing only after done()', async () => {
    const { q } = newQueue();
    q.add('k');
    const key = await q.get();
    expect(key).toBe('k');
    q.add('k');
    q.add('k');
    // Not handed out again while in flight.
    expect(q.len()).toBe(0);
    q.done('k');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('k');
    q.done('k');
    expect(q.len()).toBe(0);
  });

  it('get() waits for an item, and resolves undefined on shutdown', async () => {
    const { q } = newQueue();
    const first = q.get();
    const second = q.get();
    q.add('x');
    expect(await first).toBe('x');
    q.shutDown();
    expect(await second).toBeUndefined();
    q.add('y');
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('delayed adds come out in due order and the earliest pending delay wins', async () => {
    const { q, clock } = newQueue();
    q.addAfter('late', 50);
    q.addAfter('early', 20);
    q.addAfter('moved', 100);
    q.addAfter('moved', 10); // earlier: replaces 100
    q.addAfter('early', 500); // later: ignored, 20 stays
    expect(q.len()).toBe(0);
    clock.advance(10);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('moved');
    clock.advance(10);
    expect(await q.get()).toBe('early');
    clock.advance(29);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(await q.get()).toBe('late');
    clock.advance(1000);
    // 'moved' was not added a second time by its superseded 100 ms entry.
    expect(q.len()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('addRateLimited backs off 5, 10, 20 ms and forget resets the count', async () => {
    const { q, clock } = newQueue();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = clock.now();
      q.addRateLimited('k');
      // Advance 1 ms at a time until the key shows up, to measure the delay.
      for (let waited = 0; q.len() === 0 && waited < 1000; waited++) clock.advance(1);
      delays.push(clock.now() - before);
      q.done((await q.get()) as string);
    }
    expect(delays).toEqual([5, 10, 20]);
    expect(q.numRequeues('k')).toBe(3);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
  });

  it('shutDownWithDrain waits for in-flight items to be done', async () => {
    const { q } = newQueue();
    q.add('a');
    q.add('b');
    const a = await q.get();
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => (drained = true));
    // Queued items are still handed out after shutdown (client-go semantics).
    const b = await q.get();
    expect(b).toBe('b');
    q.done(a as string);
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(b as string);
    await drain;
    expect(drained).toBe(true);
    expect(await q.get()).toBeUndefined();
  });

  it('reports metrics through the hooks', async () => {
    const clock = new FakeClock();
    const seen = { depth: [] as number[], added: 0, retried: 0, latency: [] as number[], work: [] as number[] };
    let longest: (() => number) | undefined;
    const metrics: WorkQueueMetrics = {
      depth: (n) => seen.depth.push(n),
      added: () => seen.added++,
      retried: () => seen.retried++,
      queueLatency: (s) => seen.latency.push(s),
      workDuration: (s) => seen.work.push(s),
      trackLongestRunningProcessor: (read) => (longest = read),
    };
    const q = new WorkQueue({ name: 'm', clock, metrics });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(seen.added).toBe(2);
    expect(seen.depth).toEqual([1, 2]);
    clock.advance(2000);
    const key = await q.get();
    expect(seen.latency).toEqual([2]);
    clock.advance(500);
    expect(longest?.()).toBe(0.5);
    q.done(key as string);
    expect(seen.work).toEqual([0.5]);
    expect(longest?.()).toBe(0);
    q.addAfter('c', 10);
    expect(seen.retried).toBe(1);
  });
});
