/**
 * Work-queue keys. Controllers queue `namespace/name` strings (just `name` for
 * cluster-scoped objects), like client-go's MetaNamespaceKeyFunc, so a key is
 * cheap to dedupe and carries no stale copy of the object.
 */

/** The parts of a work-queue key. */
export interface ObjectKey {
  /** Namespace, absent for cluster-scoped objects. */
  namespace?: string;
  /** Object name. */
  name: string;
}

/** Builds the key for an object: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Splits a key made by {@link objectKey}. Names cannot contain `/`, so the first one separates. */
export function splitKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  if (slash < 0) return { name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
