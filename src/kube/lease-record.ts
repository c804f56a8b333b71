/**
 * The mapping between the elector's {@link LeaseRecord} and a
 * coordination.k8s.io/v1 Lease object, shared by the client-node store (main
 * thread) and the plain-https store (election worker).
 */
import type { LeaseRecord } from '../runtime/leader-election.js';

/**
 * Lease times are metav1.MicroTime, which the API server parses only with six
 * fractional digits; a plain Date serialises with three and is rejected.
 */
export class MicroTime extends Date {
  override toJSON(): string {
    return this.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
}

/** The Lease fields the elector reads. */
export interface LeaseObject {
  metadata?: { resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | Date | null;
    renewTime?: string | Date | null;
    leaseTransitions?: number | null;
  };
}

/** The Lease object to create or replace for `record`. */
export function leaseObject(namespace: string, name: string, record: LeaseRecord, resourceVersion: string | undefined) {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: record.holderIdentity ?? '',
      // The API field is whole seconds; never round a claim down to zero.
      leaseDurationSeconds: Math.max(1, Math.ceil(record.leaseDurationSeconds)),
      ...(record.acquireTime ? { acquireTime: new MicroTime(record.acquireTime) } : {}),
      ...(record.renewTime ? { renewTime: new MicroTime(record.renewTime) } : {}),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

/** The elector's record of a Lease read from the API server. */
export function leaseRecord(lease: LeaseObject): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? undefined,
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: spec.acquireTime ? new Date(spec.acquireTime) : undefined,
    renewTime: spec.renewTime ? new Date(spec.renewTime) : undefined,
    leaseTransitions: spec.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}
