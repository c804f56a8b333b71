/** The scale section renders every shape a run can leave: all scenarios, a restarted host loss, a cold start cut short. */
import { describe, expect, it } from '@jest/globals';
import { renderScale } from '../../../src/bench/scale-report.js';
import { SCALE_TARGETS } from '../../../src/bench/scale.js';

const dist = (p95: number) => ({ p50: p95 / 2, p95, p99: p95, max: p95, n: 10 });
const queue = { virtualmachine: { max: 5, p95: 4, mean: 1, samples: 10 } };
const base = {
  scenario: 'scale',
  machine: { cpus: 8, cpuModel: 'test cpu', memoryGiB: 32, node: 'v24', date: '2026-11-26T00:00:00.000Z' },
  setup: { hosts: 100, vms: 2000, latencyScale: 1, heartbeatIntervalSeconds: 5, operatorArgs: [], scenarios: ['cold'], vmSpec: {}, cpuProfile: false },
  loadAverage: { atStart: 0.5 },
  coldStart: {
    createSeconds: 10,
    allRunningSeconds: 55,
    running: 2000,
    applyToRunningMs: dist(50_000),
    requests: { 'POST virtualmachines': 2000 },
    operatorRequests: 17000,
    operatorCpuSeconds: 60,
    operatorPeakRssMiB: 280,
    operatorRssAfterMiB: 270,
    otherCpuSeconds: { fleet: 1, apiserver: 2, etcd: 3 },
    queueDepth: queue,
    reconcile: { vmReconciles: 4000, vmReconcileErrors: 0, vmReconcileSeconds: 1, vmQueueWaitSeconds: 2, hostReconciles: 3, vmWorkers: 16 },
    placement: { hostsUsed: 100, minPerHost: 20, maxPerHost: 20 },
  },
  operator: { peakRssMiB: 290, errorLines: 0, exited: [] as string[] },
  watchErrors: [],
  targets: SCALE_TARGETS,
};

describe('renderScale', () => {
  it('renders a full-scale run with every scenario and a host loss that restarted everything', () => {
    const text = renderScale({
      ...base,
      steady: { seconds: 600, writesPerMinute: { 'APPLY hosts/status': 1200 }, hostStatusWrites: 12000, heartbeatBudget: 12000, writesPerHostPerInterval: 1, otherDroverWrites: 0, otherDroverWritesByKey: {}, operatorCpuSeconds: 5, operatorRssMiB: 250 },
      churn: { perSecond: 20, seconds: 60, created: 1200, deleted: 1200, createErrors: 0, deleteErrors: 0, applyToRunningMs: dist(4000), notRunning: 0, deleteToGoneMs: dist(3000), notGone: 0, queueDepth: queue, requests: {}, operatorCpuSeconds: 30, operatorPeakRssMiB: 290 },
      failover: { vms: 2001, killedLeader: 'a', newLeader: 'b', leaseTakenSeconds: 16, probeRunningSeconds: 18, allReconciledSeconds: 19, heartbeatsResumedSeconds: 17, caughtUpSeconds: 19, timeoutSeconds: 120, newLeaderCpuSeconds: 9, newLeaderRssMiB: 200, settings: { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 } },
      hostLoss: { host: 'sim-7', vmsOnHost: 20, restarted: 20, allRestartedSeconds: 70, restartMs: dist(65_000), hostNonResponsiveSeconds: 60, timeoutSeconds: 300, endState: { 'Running on another host': 20 }, conditions: {} },
    });
    expect(text).toContain('## Scale: 100 simulated hosts, 2000 VMs');
    expect(text).not.toContain('smaller than the issue');
    expect(text).toMatch(/all Running \| 55 s \| ≤ 60 s \| met \|/);
    expect(text).toMatch(/caught up \| 19 s \| ≤ 20 s \| met \|/);
    expect(text).toContain('0.50–1.17 × oVirt');
    expect(text).not.toContain('**missed**');
  });

  it('renders a cold start cut short by an operator that exited, the other scenarios not run', () => {
    const text = renderScale({
      ...base,
      setup: { ...base.setup, hosts: 10, vms: 200 },
      coldStart: { ...base.coldStart, allRunningSeconds: null, running: 120 },
      operator: { ...base.operator, exited: ['the operator scale-operator-1 exited; its last warning or error: lost leadership, exiting'] },
    });
    expect(text).toContain('smaller than the issue');
    expect(text).toContain('**missed**: 120/200 Running when the benchmark stopped (the operator exited)');
    expect(text).toContain('Operator processes that ended during the run: the operator scale-operator-1 exited');
    // The scenarios after it have no figure because the operator exited, and the table says so.
    expect(text).toMatch(/\| churn \| no figure: the operator exited before or during it \| ≤ 5\.00 s \| \*\*missed\*\*/);
    expect(text).toMatch(/\| host loss \| no figure: the operator exited before or during it \|/);
  });

  it('says "not run" for scenarios left out of a run whose operator did not exit', () => {
    const { churn: _c, hostLoss: _h, ...rest } = base as Record<string, unknown>;
    const text = renderScale({ ...rest, operator: { ...base.operator, exited: [] } });
    expect(text).toMatch(/\| churn \| not run \|/);
    expect(text).toMatch(/\| host loss \| not run \|/);
  });
});
