/**
 * Entry point of the leader-election worker thread (see
 * src/runtime/threaded-elector.ts for why it exists). It builds a
 * {@link LeaderElector} over the plain-https Lease store from the data the
 * main thread passed, and serves it on the parent port until it ends.
 *
 * Logs go straight to stdout's file descriptor: a worker's `process.stdout`
 * is relayed through the main thread's event loop, the one thing this thread
 * must not wait for.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { createLogger } from '../../log.js';
import { HttpsLeaseStore } from '../../kube/https-lease-store.js';
import { LeaderElector } from '../../runtime/leader-election.js';
import { serveElector, StallGuardedStore } from '../../runtime/threaded-elector.js';
import type { LeaderWorkerData } from './thread.js';

const data = workerData as LeaderWorkerData;
if (!parentPort) throw new Error('the leader-election worker must run as a worker thread');
const port = parentPort;
const log = createLogger('operator', data.logLevel, pino.destination({ dest: 1, sync: true })).child({ thread: 'leader-election' });
const store = new HttpsLeaseStore(data.connection, data.namespace, data.name, data.renewDeadlineMs);

serveElector({
  port,
  renewal: data.renewal,
  stallLimitMs: data.stallLimitMs,
  createElector: (callbacks, stalled) =>
    new LeaderElector({
      identity: data.identity,
      name: data.name,
      store: new StallGuardedStore(store, stalled),
      leaseDurationMs: data.leaseDurationMs,
      renewDeadlineMs: data.renewDeadlineMs,
      retryPeriodMs: data.retryPeriodMs,
      logger: log,
      callbacks,
    }),
  onDone: () => {
    store.close();
    port.close();
  },
});
