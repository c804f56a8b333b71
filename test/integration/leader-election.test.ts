/**
 * Two real operator processes against the real API server, authenticated as
 * the deploy/ ServiceAccount: one leads and reconciles, the other waits;
 * SIGKILL hands over within the lease duration; SIGTERM releases at once.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { eventually, freshNamespace, getJson, kubectl } from '../support/env.js';
import { FAST_LEASE, killOperator, leaseHolder, metricSum, operatorLog, startOperator, type OperatorProcess } from '../support/operator.js';

const started: OperatorProcess[] = [];

afterAll(async () => {
  for (const op of started) await killOperator(op, 'SIGKILL');
});

function manager(namespace: string, name: string): string {
  return JSON.stringify({ apiVersion: 'drover.io/v1alpha1', kind: 'Manager', metadata: { name, namespace }, spec: { mode: 'Standalone' } });
}

function vm(namespace: string, name: string): string {
  return JSON.stringify({
    apiVersion: 'drover.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace },
    spec: { cpu: { cores: 1 }, memory: '64Mi', disks: [{ name: 'root', storageDomain: 'data', size: '1Gi', bootOrder: 1 }] },
  });
}

describe('leader election with two operator processes', () => {
  it('one leads, SIGKILL fails over within the lease duration, SIGTERM releases at once', async () => {
    // A previous holder (from another test file) must not be mistaken for ours.
    const a = await startOperator('op-a');
    started.push(a);
    await eventually(async () => (await leaseHolder()) === 'op-a', 30_000);
    const b = await startOperator('op-b');
    started.push(b);
    await eventually(async () => (await fetch(`http://127.0.0.1:${b.healthPort}/readyz`)).ok, 30_000);

    const namespace = await freshNamespace('le');
    await kubectl(['apply', '--server-side', '-f', '-'], manager(namespace, 'm'));
    await eventually(async () => (await getJson('manager', 'm', namespace)).status?.observedGeneration === 1);

    // Exactly one reconciles: the standby has no controller activity at all.
    expect(await leaseHolder()).toBe('op-a');
    expect(await metricSum(a, 'controller_runtime_reconcile_total')).toBeGreaterThan(0);
    expect(await metricSum(b, 'controller_runtime_reconcile_total')).toBe(0);
    expect(await metricSum(a, 'leader_election_master_status')).toBe(1);
    expect(await metricSum(b, 'leader_election_master_status')).toBe(0);
    // The ServiceAccount token kubeconfig is usable from the election thread: the Lease is renewed there.
    const leaderLog = await eventually(async () => {
      const lines = await operatorLog(a);
      return lines.some((l) => l.thread === 'leader-election' && l.identity === 'op-a' && l.msg === 'Successfully acquired leader lease') ? lines : undefined;
    }, 10_000);
    expect(leaderLog.some((l) => l.msg === 'leader election runs on its own thread')).toBe(true);

    // SIGKILL the leader: the Lease is not released, so op-b must wait it out.
    const killedAt = Date.now();
    await killOperator(a, 'SIGKILL');
    await kubectl(['apply', '--server-side', '-f', '-'], vm(namespace, 'after-failover'));
    await eventually(async () => (await leaseHolder()) === 'op-b', 30_000, 50);
    const takeoverMs = Date.now() - killedAt;
    // The lease duration, plus at most one observation delay (retry period with jitter) on each side.
    expect(takeoverMs).toBeLessThanOrEqual(FAST_LEASE.leaseDurationMs + 2 * 2.2 * FAST_LEASE.retryPeriodMs + 1000);
    // The new leader finishes the work created while nobody led.
    const reconciled = await eventually(async () => {
      const o = await getJson('virtualmachine', 'after-failover', namespace);
      return o.status?.phase ? o : undefined;
    });
    expect(reconciled.status.phase).toBe('Pending');
    expect(reconciled.metadata.finalizers).toContain('drover.io/finalizer');

    // SIGTERM: the Lease is released as the process exits, not after it expires.
    await killOperator(b, 'SIGTERM');
    expect(await leaseHolder()).toBe('');
    const c = await startOperator('op-c');
    started.push(c);
    const startedAt = Date.now();
    await eventually(async () => (await leaseHolder()) === 'op-c', 30_000, 50);
    // A released lease is taken on the first attempt, well before a full lease duration.
    expect(Date.now() - startedAt).toBeLessThan(FAST_LEASE.leaseDurationMs);
    await killOperator(c, 'SIGTERM');
  });
});
