/** The client-side request limit (client-go's QPS/burst) on a fake clock. */
import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../../src/runtime/clock.js';
import { TokenBucket } from '../../../src/runtime/rate-limiter.js';

/** Lets resolved promises run their continuations. */
const flush = () => new Promise((r) => setImmediate(r));

describe('TokenBucket', () => {
  it('lets a burst through at once, then one request per 1/qps, in arrival order, with the wait reported', async () => {
    const clock = new FakeClock(0);
    const bucket = new TokenBucket(10, 3, clock);
    expect(await Promise.all([bucket.take(), bucket.take(), bucket.take()])).toEqual([0, 0, 0]);

    const order: Array<[number, number]> = [];
    for (const i of [1, 2, 3]) void bucket.take().then((waited) => order.push([i, waited]));
    await flush();
    expect(order).toEqual([]);
    expect(bucket.waiting).toBe(3);
    clock.advance(100);
    await flush();
    expect(order).toEqual([[1, 100]]);
    clock.advance(200);
    await flush();
    expect(order).toEqual([[1, 100], [2, 200], [3, 300]]);
    expect(bucket.waiting).toBe(0);
  });

  it('refills up to the burst only, however long it was idle', async () => {
    const clock = new FakeClock(0);
    const bucket = new TokenBucket(100, 2, clock);
    await bucket.take();
    await bucket.take();
    clock.advance(60_000);
    expect(await Promise.all([bucket.take(), bucket.take()])).toEqual([0, 0]);
    let third: number | undefined;
    void bucket.take().then((w) => (third = w));
    await flush();
    expect(third).toBeUndefined();
    clock.advance(10);
    await flush();
    expect(third).toBe(10);
  });

  it('a clock that steps back owes nothing: the next request waits at most one interval', async () => {
    const clock = new FakeClock(1_000_000);
    const bucket = new TokenBucket(10, 1, clock);
    await bucket.take();
    // Behind the bucket's last refill by a minute (what an NTP step does to a wall clock).
    (clock as unknown as { current: number }).current -= 60_000;
    let waited: number | undefined;
    void bucket.take().then((w) => (waited = w));
    await flush();
    clock.advance(100);
    await flush();
    expect(waited).toBe(100);
  });

  it('refuses a rate or burst that is not positive', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(/qps/);
    expect(() => new TokenBucket(0.0001, 1)).toThrow(/qps/);
    expect(() => new TokenBucket(5, 0)).toThrow(/burst/);
    expect(() => new TokenBucket(Infinity, 1)).toThrow(/qps/);
  });
});
