/** The leader elector's LeaseStore on a coordination.k8s.io/v1 Lease. */
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { ConflictError } from '../runtime/errors.js';
import type { LeaseRecord, LeaseStore } from '../runtime/leader-election.js';
import { ApiError } from './types.js';
import { toApiError } from './client.js';
import { leaseObject, leaseRecord } from './lease-record.js';

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
      return leaseRecord(lease);
    } catch (error) {
      const e = toApiError(error);
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  async create(record: LeaseRecord): Promise<void> {
    try {
      await this.api.createNamespacedLease({ namespace: this.namespace, body: leaseObject(this.namespace, this.name, record, undefined) as V1Lease });
    } catch (error) {
      throw conflictOr(error);
    }
  }

  async update(record: LeaseRecord, resourceVersion: string | undefined): Promise<void> {
    try {
      await this.api.replaceNamespacedLease({
        name: this.name,
        namespace: this.namespace,
        body: leaseObject(this.namespace, this.name, record, resourceVersion) as V1Lease,
      });
    } catch (error) {
      throw conflictOr(error);
    }
  }
}

function conflictOr(error: unknown): unknown {
  const e = toApiError(error);
  if (e instanceof ApiError && e.code === 409) return new ConflictError(e.message);
  return e;
}
