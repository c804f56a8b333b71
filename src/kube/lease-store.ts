/** The leader elector's LeaseStore on a coordination.k8s.io/v1 Lease. */
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { ConflictError } from '../runtime/errors.js';
import type { LeaseRecord, LeaseStore } from '../runtime/leader-election.js';
import { ApiError } from './types.js';
import { toApiError } from './client.js';

/** A Lease named `name` in `namespace`, read and written with optimistic concurrency. */
export class KubeLeaseStore implements LeaseStore {
  private readonly api: CoordinationV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  async get(): Promise<LeaseRecord | undefined> {
    try {
      const lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      return fromLease(lease);
    } catch (error) {
      const e = toApiError(error);
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  async create(record: LeaseRecord): Promise<void> {
    try {
      await this.api.createNamespacedLease({ namespace: this.namespace, body: this.toLease(record, undefined) });
    } catch (error) {
      throw conflictOr(error);
    }
  }

  async update(record: LeaseRecord, resourceVersion: string | undefined): Promise<void> {
    try {
      await this.api.replaceNamespacedLease({
        name: this.name,
        namespace: this.namespace,
        body: this.toLease(record, resourceVersion),
      });
    } catch (error) {
      throw conflictOr(error);
    }
  }

  private toLease(record: LeaseRecord, resourceVersion: string | undefined): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
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
}

/**
 * Lease times are metav1.MicroTime, which the API server parses only with six
 * fractional digits; a plain Date serialises with three and is rejected.
 */
export class MicroTime extends Date {
  override toJSON(): string {
    return this.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
}

function fromLease(lease: V1Lease): LeaseRecord {
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

function conflictOr(error: unknown): unknown {
  const e = toApiError(error);
  if (e instanceof ApiError && e.code === 409) return new ConflictError(e.message);
  return e;
}
