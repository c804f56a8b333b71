/**
 * Condition types and reasons Drover writes, and the pure helper that merges a
 * condition into a list the way apimachinery's meta.SetStatusCondition does:
 * lastTransitionTime moves only when the status changes.
 */
import type { Condition } from './common.js';

/** Condition types. */
export const ConditionType = {
  Ready: 'Ready',
  HighlyAvailable: 'HighlyAvailable',
  StorageReachable: 'StorageReachable',
  Scheduled: 'Scheduled',
  RestartRequired: 'RestartRequired',
  FailoverBlocked: 'FailoverBlocked',
  LiveMigratable: 'LiveMigratable',
  Connected: 'Connected',
  Drained: 'Drained',
  /**
   * kstatus' abnormal-true condition (what Flux, kpt and Argo CD's gitops
   * engine read as Failed): True while the object cannot make progress until
   * its spec changes (InvalidSpec, a failed migration record).
   */
  Stalled: 'Stalled',
  /** Hosts: the agent's certificate is valid and renewed in time (False RenewalFailed: the last renewal failed; it is retried every minute). */
  CertificateValid: 'CertificateValid',
  /** SelfHosted Managers: two or more live self-hosted engine nodes with a positive score. */
  HostedEngineHighlyAvailable: 'HostedEngineHighlyAvailable',
  /** SelfHosted Managers: the shared HA metadata carries spec.selfHosted.maintenance. */
  HostedEngineMaintenanceApplied: 'HostedEngineMaintenanceApplied',
} as const;

/** Reasons shared across kinds. */
export const Reason = {
  InvalidSpec: 'InvalidSpec',
  Reconciled: 'Reconciled',
  NoHostAvailable: 'NoHostAvailable',
  NotEnoughHosts: 'NotEnoughHosts',
  NoActiveDataDomain: 'NoActiveDataDomain',
  HostsCannotReachStorage: 'HostsCannotReachStorage',
  AsExpected: 'AsExpected',
  LeaseHeld: 'LeaseHeld',
  FencingFailed: 'FencingFailed',
  NoCapacity: 'NoCapacity',
  StorageUnreachable: 'StorageUnreachable',
} as const;

/** A time as metav1.Time writes it: RFC 3339 in UTC, whole seconds. */
export function metaTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A condition to set: the time is filled in by setCondition. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'> & {
  observedGeneration?: number;
};

/**
 * Returns a new list with `input` merged in. The transition time is kept when
 * the status is unchanged, so rewriting the same condition is not a change.
 */
export function setCondition(list: readonly Condition[] | undefined, input: ConditionInput, now: Date): Condition[] {
  const current = list ?? [];
  const existing = current.find((c) => c.type === input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    ...(input.observedGeneration !== undefined ? { observedGeneration: input.observedGeneration } : {}),
    lastTransitionTime:
      existing && existing.status === input.status ? existing.lastTransitionTime : metaTime(now),
    reason: input.reason,
    message: input.message,
  };
  if (!existing) return [...current, next];
  return current.map((c) => (c.type === input.type ? next : c));
}

/** The condition of a type, if present. */
export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}
