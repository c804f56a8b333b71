/**
 * Starts leader election on a worker thread (src/operator/leader/worker.ts)
 * and returns its main-thread side. Falls back to nothing (the caller keeps
 * the in-thread elector) when the kubeconfig's credentials cannot be used
 * from the worker.
 */
import { Worker } from 'node:worker_threads';
import type { LeaseConnection } from '../../kube/lease-connection.js';
import type { LeaderCallbacks } from '../../runtime/leader-election.js';
import { createRenewalRecord, ThreadedLeaderElector } from '../../runtime/threaded-elector.js';

/** What the worker receives (structured-cloned; the renewal record is shared). */
export interface LeaderWorkerData {
  identity: string;
  namespace: string;
  name: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  stallLimitMs: number;
  connection: LeaseConnection;
  renewal: BigInt64Array;
  logLevel: string;
}

/** Options for {@link startLeaderThread}. */
export interface LeaderThreadOptions extends Omit<LeaderWorkerData, 'renewal'> {
  callbacks: LeaderCallbacks;
  /** The worker's module (default the compiled worker.js next to this file). */
  workerUrl?: URL;
  /** Called if the worker fails; leadership has ended by then. */
  onWorkerFailure?(error: Error): void;
}

/** Spawns the worker and starts the main-thread side. */
export function startLeaderThread(options: LeaderThreadOptions): ThreadedLeaderElector {
  const { callbacks, workerUrl, onWorkerFailure, ...rest } = options;
  const renewal = createRenewalRecord();
  const data: LeaderWorkerData = { ...rest, renewal };
  const worker = new Worker(workerUrl ?? new URL('./worker.js', import.meta.url), {
    workerData: data,
    name: 'leader-election',
    // The worker needs a few MiB; a small heap keeps its footprint small.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
  });
  const elector = new ThreadedLeaderElector({
    worker,
    renewal,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
    callbacks,
    ...(onWorkerFailure ? { onWorkerFailure } : {}),
  });
  elector.start();
  return elector;
}
