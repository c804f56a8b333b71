import { describe, expect, it } from '@jest/globals';
import { quietOnStale, STALE_RETRY_MAX_MS, STALE_RETRY_MS } from '../../../src/controllers/stale.js';
import { ApiError, StaleObjectError } from '../../../src/kube/types.js';
import type { ReconcileContext } from '../../../src/runtime/controller.js';

/** A ReconcileContext whose logger records what was logged at which level. */
function context(key: string): { rctx: ReconcileContext; logged: string[] } {
  const logged: string[] = [];
  const at = (level: string) => (..._args: unknown[]) => void logged.push(level);
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { rctx: { key, name: key, log, signal: new AbortController().signal } as unknown as ReconcileContext, logged };
}

describe('quietOnStale', () => {
  it('ends a pass refused as stale with a short requeue, logged at debug only', async () => {
    const { rctx, logged } = context('a');
    const reconcile = quietOnStale(async () => {
      throw new StaleObjectError('the object has been modified');
    });
    await expect(reconcile('a', rctx)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
    expect(logged).toEqual(['debug']);
  });

  it('doubles the delay while the refusals go on, up to the bound, per key; any other outcome starts again', async () => {
    const { rctx } = context('a');
    let stale = true;
    const reconcile = quietOnStale(async () => {
      if (stale) throw new StaleObjectError('the object has been modified');
      return { requeueAfter: 30_000 };
    });
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) delays.push(((await reconcile('a', rctx)) as { requeueAfter: number }).requeueAfter);
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
    expect(Math.max(...delays)).toBe(STALE_RETRY_MAX_MS);
    // Another key has its own count.
    await expect(reconcile('b', context('b').rctx)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
    stale = false;
    await expect(reconcile('a', rctx)).resolves.toEqual({ requeueAfter: 30_000 });
    stale = true;
    await expect(reconcile('a', rctx)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
  });

  it('passes every other error through, a 409 that is not about staleness (AlreadyExists) included', async () => {
    const { rctx, logged } = context('a');
    const exists = new ApiError('virtualmachinemigrations "m" already exists', 409);
    await expect(quietOnStale(async () => Promise.reject(exists))('a', rctx)).rejects.toBe(exists);
    await expect(quietOnStale(async () => Promise.reject(new Error('boom')))('a', rctx)).rejects.toThrow('boom');
    expect(logged).toEqual([]);
  });
});
