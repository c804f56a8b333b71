import { describe, expect, it } from '@jest/globals';
import { FakeClock, realClock, sleep, TIMED_OUT, withTimeout } from '../../../src/runtime/clock.js';

describe('FakeClock', () => {
  it('fires timers in due order when advanced, including timers scheduled while advancing', () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.after(30, () => fired.push('c'));
    clock.after(10, () => {
      fired.push('a');
      clock.after(5, () => fired.push('b')); // due at 15, inside the same advance
    });
    const cancel = clock.after(20, () => fired.push('cancelled'));
    cancel();
    clock.advance(25);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(1025);
    clock.advance(5);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('withTimeout / sleep', () => {
  it('returns the value when the promise wins and TIMED_OUT when time wins', async () => {
    await expect(withTimeout(realClock, Promise.resolve(7), 1000)).resolves.toBe(7);
    await expect(withTimeout(realClock, new Promise<number>(() => {}), 10)).resolves.toBe(TIMED_OUT);
  });

  it('sleep resolves early when its signal aborts', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    let woke = false;
    const p = sleep(clock, 1_000_000, ac.signal).then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    ac.abort();
    await p;
    expect(woke).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });
});
