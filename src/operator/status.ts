/**
 * Writing status only when it changed. Two statuses are compared as
 * canonical JSON (sorted keys), so key order or an unchanged condition never
 * causes a write: once converged, an idle operator writes nothing.
 */
import type { KubeObject, ObjectClient, ResourceType } from '../kube/types.js';

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
 * status the object has now. Returns true when a write happened.
 */
export async function writeStatusIfChanged(
  client: ObjectClient,
  type: ResourceType,
  object: KubeObject,
  status: unknown,
): Promise<boolean> {
  if (canonicalJson(clean(object.status)) === canonicalJson(clean(status))) return false;
  await client.applyStatus(type, object, clean(status));
  return true;
}

/**
 * {@link writeStatusIfChanged} with `object`'s resourceVersion as a
 * precondition (409 when the object changed since it was read). Returns the
 * written object, or undefined when nothing changed.
 */
export async function writeStatusGuarded(client: ObjectClient, type: ResourceType, object: KubeObject, status: unknown): Promise<KubeObject | undefined> {
  if (canonicalJson(clean(object.status)) === canonicalJson(clean(status))) return undefined;
  return client.applyStatus(type, object, clean(status), { guarded: true });
}
