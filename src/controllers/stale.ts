/**
 * A stale cache is no error. Status writes (and finalizer updates) carry the
 * resourceVersion their pass read, so a pass that worked from an informer
 * cache older than the object (typically behind the previous pass's own
 * write) is refused with a {@link StaleObjectError}. Nothing is lost by that:
 * the watch event carrying the newer object is on its way, and the next pass
 * recomputes the status from it. So the refusal is logged at debug and the
 * key looks again shortly, instead of the controller's error path (a stack
 * trace per refusal, and exponential backoff that would delay the real
 * status by seconds).
 */
import { StaleObjectError } from '../kube/types.js';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../runtime/controller.js';

/** First look again after a stale write: about the time the watch event takes to arrive. */
export const STALE_RETRY_MS = 250;
/**
 * Bound of the delay after refusals in a row. A cache that stays behind (a
 * broken watch until its relist) doubles the delay per refusal up to this,
 * so it never turns into a loop of refused writes.
 */
export const STALE_RETRY_MAX_MS = 4_000;

/**
 * Wraps `reconcile` so a {@link StaleObjectError} ends the pass quietly with
 * a short requeue ({@link STALE_RETRY_MS}, doubling while the refusals go on,
 * up to {@link STALE_RETRY_MAX_MS}). Every other outcome passes through and
 * resets the key's count.
 */
export function quietOnStale(reconcile: Reconciler): Reconciler {
  const refusals = new Map<string, number>();
  return async (key: string, rctx: ReconcileContext): Promise<ReconcileResult | void> => {
    try {
      const result = await reconcile(key, rctx);
      refusals.delete(key);
      return result;
    } catch (error) {
      if (!(error instanceof StaleObjectError)) {
        refusals.delete(key);
        throw error;
      }
      const count = (refusals.get(key) ?? 0) + 1;
      refusals.set(key, count);
      const requeueAfter = Math.min(STALE_RETRY_MS * 2 ** (count - 1), STALE_RETRY_MAX_MS);
      rctx?.log?.debug({ requeueAfterMs: requeueAfter, refusals: count }, 'the object changed since the cache read it; looking again');
      return { requeueAfter };
    }
  };
}
