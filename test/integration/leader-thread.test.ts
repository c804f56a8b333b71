/**
 * The leader-election thread against the real API server: while the main
 * event loop is blocked for longer than the renew deadline, the worker thread
 * (the compiled dist/operator/leader/worker.js) keeps renewing the Lease and
 * the main thread still counts itself leader afterwards. The same block
 * loses the Lease for an elector on the main thread, which is why the thread
 * exists. Uses the admin kubeconfig (client certificates); the operator
 * processes of leader-election.test.ts cover the ServiceAccount token path.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadKubeConfig } from '../../src/kube/config.js';
import { leaseConnectionFrom } from '../../src/kube/lease-connection.js';
import { KubeLeaseStore } from '../../src/kube/lease-store.js';
import { startLeaderThread } from '../../src/operator/leader/thread.js';
import { LeaderElector } from '../../src/runtime/leader-election.js';
import type { ThreadedLeaderElector } from '../../src/runtime/threaded-elector.js';
import { adminKubeconfig, eventually, kubectl, repoRoot } from '../support/env.js';
import { FAST_LEASE } from '../support/operator.js';

const NAMESPACE = 'drover-system';
const toStop: Array<{ stop(o: { release: boolean }): Promise<void> }> = [];

afterAll(async () => {
  for (const e of toStop) await e.stop({ release: true });
});

async function lease(name: string): Promise<{ holder: string; renewMs: number; transitions: number }> {
  const { stdout } = await kubectl(['get', 'lease', name, '-n', NAMESPACE, '-o', 'json']);
  const spec = JSON.parse(stdout).spec ?? {};
  return { holder: spec.holderIdentity ?? '', renewMs: spec.renewTime ? Date.parse(spec.renewTime) : 0, transitions: spec.leaseTransitions ?? 0 };
}

/** Holds the event loop, as an overloaded operator's would be. */
function blockEventLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* busy */
  }
}

describe('leader election on its own thread', () => {
  it('keeps the Lease while the main event loop is blocked past the renew deadline; an elector on the main thread loses it', async () => {
    await kubectl(['create', 'namespace', NAMESPACE]).catch(() => undefined);
    const kc = loadKubeConfig(adminKubeconfig());
    const found = leaseConnectionFrom(kc);
    if (!('connection' in found)) throw new Error(`admin kubeconfig not usable from the thread: ${found.unsupported}`);

    const threaded: ThreadedLeaderElector = startLeaderThread({
      identity: 'thread-a',
      namespace: NAMESPACE,
      name: 'drover-thread-test',
      ...FAST_LEASE,
      stallLimitMs: 60_000,
      connection: found.connection,
      logLevel: 'warn',
      callbacks: {},
      workerUrl: pathToFileURL(join(repoRoot(), 'dist', 'operator', 'leader', 'worker.js')),
    });
    toStop.push(threaded);
    const inThread = new LeaderElector({ identity: 'main-a', name: 'drover-main-test', store: new KubeLeaseStore(kc, NAMESPACE, 'drover-main-test'), ...FAST_LEASE });
    toStop.push(inThread);
    inThread.start();
    await eventually(async () => threaded.isLeader() && inThread.isLeader(), 30_000, 50);
    const before = await lease('drover-thread-test');
    expect(before.holder).toBe('thread-a');

    const blockMs = 2.5 * FAST_LEASE.renewDeadlineMs;
    blockEventLoop(blockMs);
    // Read at once, before the main thread's own timers had a chance to run.
    const threadedAfter = threaded.isLeader();
    const inThreadAfter = inThread.isLeader();
    expect(threadedAfter).toBe(true);
    expect(inThreadAfter).toBe(false);

    const after = await lease('drover-thread-test');
    expect(after.holder).toBe('thread-a');
    expect(after.transitions).toBe(before.transitions);
    // Renewed during the block: its last renewal is well past where it stood before.
    expect(after.renewMs - before.renewMs).toBeGreaterThan(blockMs - 2 * FAST_LEASE.retryPeriodMs);

    // A graceful stop releases the Lease from the thread.
    await threaded.stop({ release: true });
    expect((await lease('drover-thread-test')).holder).toBe('');
    expect(threaded.isLeader()).toBe(false);
  });
});
