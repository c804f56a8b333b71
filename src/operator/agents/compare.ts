/**
 * Change detection for link state: notifications go out only when something
 * a reconciler acts on differs, so a relist that finds nothing new costs no
 * reconcile.
 */
import type { StorageDomainStatusResponse, VmInfo } from '../../api/agent/index.js';

/** Structural equality of JSON-like values (and Dates), ignoring key order. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  // Keys holding undefined count as absent: optional fields are written both ways.
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual(ra[k], rb[k]));
}

/**
 * What of a storage domain's status matters to the reconcilers: connection,
 * identity, health verdict and size. Probe latencies, the probe time and free
 * space move on every probe; they are kept in the link for readers but do not
 * by themselves trigger a notification (that would reconcile every domain on
 * every relist).
 */
export function storageSignature(s: StorageDomainStatusResponse): unknown {
  return {
    name: s.name,
    connected: s.connected,
    metadata: s.metadata,
    ok: s.health?.ok,
    error: s.health?.error,
    totalBytes: s.capacity?.totalBytes,
  };
}

/** Names of storage domains whose signature differs (added and removed ones too). */
export function changedStorage(prev: readonly StorageDomainStatusResponse[] | undefined, next: readonly StorageDomainStatusResponse[]): string[] {
  const before = new Map((prev ?? []).map((s) => [s.name, storageSignature(s)]));
  const after = new Map(next.map((s) => [s.name, storageSignature(s)]));
  const changed: string[] = [];
  for (const [name, sig] of after) if (!deepEqual(before.get(name), sig)) changed.push(name);
  for (const name of before.keys()) if (!after.has(name)) changed.push(name);
  return changed;
}

/** UIDs of domains that differ in any reported field, appeared or disappeared. */
export function changedVms(prev: readonly VmInfo[] | undefined, next: readonly VmInfo[]): string[] {
  const before = new Map((prev ?? []).map((v) => [v.uid, v]));
  const after = new Map(next.map((v) => [v.uid, v]));
  const changed: string[] = [];
  for (const [uid, vm] of after) if (!deepEqual(before.get(uid), vm)) changed.push(uid);
  for (const uid of before.keys()) if (!after.has(uid)) changed.push(uid);
  return changed;
}
