/**
 * A {@link LeaseStore} held in memory, with the same optimistic-concurrency
 * behaviour as the API server (resourceVersion checks, create conflicts).
 * For tests and single-process development runs; several electors sharing one
 * instance behave like several replicas sharing one Lease object.
 */
import { ConflictError } from './errors.js';
import type { LeaseRecord, LeaseStore } from './leader-election.js';

function copy(record: LeaseRecord): LeaseRecord {
  // Dates are mutable; copying keeps callers from editing the stored record.
  return {
    ...record,
    acquireTime: record.acquireTime && new Date(record.acquireTime.getTime()),
    renewTime: record.renewTime && new Date(record.renewTime.getTime()),
  };
}

/** See the module comment. */
export class InMemoryLeaseStore implements LeaseStore {
  private record: LeaseRecord | undefined;
  private version = 0;

  /** @param initial optional existing lease (given a fresh resourceVersion). */
  constructor(initial?: LeaseRecord) {
    if (initial) this.record = { ...copy(initial), resourceVersion: String(++this.version) };
  }

  /** {@inheritDoc LeaseStore.get} */
  async get(): Promise<LeaseRecord | undefined> {
    return this.record && copy(this.record);
  }

  /** {@inheritDoc LeaseStore.create} */
  async create(record: LeaseRecord): Promise<void> {
    if (this.record) throw new ConflictError('lease already exists');
    this.record = { ...copy(record), resourceVersion: String(++this.version) };
  }

  /** {@inheritDoc LeaseStore.update} */
  async update(record: LeaseRecord, resourceVersion: string | undefined): Promise<void> {
    if (!this.record) throw new ConflictError('lease does not exist');
    if (resourceVersion !== this.record.resourceVersion) {
      throw new ConflictError(`resourceVersion ${resourceVersion} is stale (current ${this.record.resourceVersion})`);
    }
    this.record = { ...copy(record), resourceVersion: String(++this.version) };
  }

  /** The stored record right now, synchronously (for assertions). */
  current(): LeaseRecord | undefined {
    return this.record && copy(this.record);
  }
}
