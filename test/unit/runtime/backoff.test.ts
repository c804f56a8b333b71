import { describe, expect, it } from '@jest/globals';
import {
  defaultControllerRateLimiter,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
  TokenBucketRateLimiter,
} from '../../../src/runtime/backoff.js';
import { FakeClock } from '../../../src/runtime/clock.js';

describe('ItemExponentialRateLimiter', () => {
  it('doubles from 5 ms per key and forget resets it', () => {
    const rl = new ItemExponentialRateLimiter();
    expect([rl.when('a'), rl.when('a'), rl.when('a'), rl.when('a')]).toEqual([5, 10, 20, 40]);
    expect(rl.numRequeues('a')).toBe(4);
    // Another key has its own history.
    expect(rl.when('b')).toBe(5);
    rl.forget('a');
    expect(rl.numRequeues('a')).toBe(0);
    expect(rl.when('a')).toBe(5);
  });

  it('caps at the max delay, even after very many failures', () => {
    const rl = new ItemExponentialRateLimiter({ baseDelayMs: 5, maxDelayMs: 30 });
    expect([rl.when('k'), rl.when('k'), rl.when('k'), rl.when('k'), rl.when('k')]).toEqual([5, 10, 20, 30, 30]);
    const big = new ItemExponentialRateLimiter();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = big.when('x');
    expect(last).toBe(1_000_000);
  });
});

describe('TokenBucketRateLimiter', () => {
  it('allows the burst, then spaces reservations by 1/qps, and refills over time up to the burst', () => {
    const clock = new FakeClock();
    const rl = new TokenBucketRateLimiter({ qps: 10, burst: 2, clock });
    expect([rl.when('a'), rl.when('b'), rl.when('c'), rl.when('d')]).toEqual([0, 0, 100, 200]);
    clock.advance(10_000);
    expect([rl.when('a'), rl.when('a'), rl.when('a')]).toEqual([0, 0, 100]);
  });
});

describe('MaxOfRateLimiter / defaultControllerRateLimiter', () => {
  it('takes the larger delay of per-item backoff and the bucket', () => {
    const clock = new FakeClock();
    const rl = new MaxOfRateLimiter(
      new ItemExponentialRateLimiter({ baseDelayMs: 1 }),
      new TokenBucketRateLimiter({ qps: 1, burst: 1, clock }),
    );
    expect(rl.when('a')).toBe(1); // bucket has a token, per-item says 1
    expect(rl.when('b')).toBe(1000); // bucket empty: 1 s wins over per-item 1 ms
    expect(rl.numRequeues('a')).toBe(1);
    rl.forget('a');
    expect(rl.numRequeues('a')).toBe(0);
  });

  it('default limiter starts at 5 ms per key', () => {
    const rl = defaultControllerRateLimiter();
    expect([rl.when('x'), rl.when('x'), rl.when('x')]).toEqual([5, 10, 20]);
  });
});
