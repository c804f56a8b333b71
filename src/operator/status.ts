/**
 * Writing status only when it changed, and only over the object it was
 * computed from. Two statuses are compared as canonical JSON (sorted keys),
 * so key order or an unchanged condition never causes a write: once
 * converged, an idle operator writes nothing.
 */
import type { KubeObject, ObjectClient, ResourceType, StaleObjectError } from '../kube/types.js';

/** JSON with object keys sorted, for order-insensitive comparison. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** Drops undefined members so absent and undefined compare equal. */
function clean(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? {}));
}

/**
 * Applies `status` to the object's status subresource if it differs from the
 * status `object` has, with `object`'s resourceVersion as a precondition.
 * Every status is computed from what a pass read, so a pass working from a
 * cache older than the object (an earlier pass's write not seen yet) must not
 * put its older view back: the write then fails with a
 * {@link StaleObjectError} (409), and the next pass, from the newer object,
 * computes the status again. Returns the written object (carrying the new
 * resourceVersion, for a second write in the same pass), or undefined when
 * nothing changed.
 */
export async function writeStatusIfChanged(
  client: ObjectClient,
  type: ResourceType,
  object: KubeObject,
  status: unknown,
): Promise<KubeObject | undefined> {
  const next = clean(status);
  if (canonicalJson(clean(object.status)) === canonicalJson(next)) return undefined;
  return client.applyStatus(type, object, next);
}
