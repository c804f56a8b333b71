/** The scale benchmark's pure figures: distributions, writes per minute, the heartbeat budget, gauges, the churn schedule, verdicts. */
import { describe, expect, it } from '@jest/globals';
import { churnSchedule, distribution, samplesByLabel, steadyVerdict, summarizeGauge, writesPerMinute } from '../../../src/bench/scale-stats.js';
import { verdict } from '../../../src/bench/scale-report.js';

describe('distribution', () => {
  it('gives nearest-rank percentiles and the max', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(distribution(values)).toEqual({ p50: 50, p95: 95, p99: 99, max: 100, n: 100 });
    expect(distribution([3000, 1000, 2000])).toEqual({ p50: 2000, p95: 3000, p99: 3000, max: 3000, n: 3 });
  });
  it('is all zeros for no values, not NaN', () => {
    expect(distribution([])).toEqual({ p50: 0, p95: 0, p99: 0, max: 0, n: 0 });
  });
});

describe('writesPerMinute', () => {
  it('counts write verbs only, per minute of the window', () => {
    const counts = new Map([
      ['APPLY hosts/status', 30],
      ['PUT leases', 15],
      ['GET leases', 99],
      ['WATCH virtualmachines', 2],
      ['POST events', 0],
    ]);
    expect(writesPerMinute(counts, 30)).toEqual({ 'APPLY hosts/status': 60, 'PUT leases': 30 });
  });
});

describe('steadyVerdict', () => {
  it('compares Host status writes with one per host per heartbeat interval and sets the rest of Drover apart', () => {
    const counts = new Map([
      ['APPLY hosts/status', 240],
      ['APPLY virtualmachines/status', 3],
      ['POST events', 1],
      ['PUT leases', 30],
      ['POST endpoints', 6],
      ['GET hosts', 5],
    ]);
    const v = steadyVerdict(counts, { seconds: 60, hosts: 20, heartbeatIntervalSeconds: 5 });
    expect(v).toEqual({
      hostStatusWrites: 240,
      budget: 240,
      writesPerHostPerInterval: 1,
      otherDroverWrites: 4,
      otherByKey: { 'APPLY virtualmachines/status': 3, 'POST events': 1 },
    });
    expect(steadyVerdict(new Map([['APPLY hosts/status', 480]]), { seconds: 60, hosts: 20, heartbeatIntervalSeconds: 5 }).writesPerHostPerInterval).toBe(2);
  });
});

describe('summarizeGauge and samplesByLabel', () => {
  it('summarizes samples', () => {
    expect(summarizeGauge([0, 10, 20, 30])).toEqual({ max: 30, p95: 30, mean: 15, samples: 4 });
    expect(summarizeGauge([])).toEqual({ max: 0, p95: 0, mean: 0, samples: 0 });
  });
  it('reads a gauge by one label from Prometheus text', () => {
    const text = [
      '# HELP workqueue_depth Current depth of workqueue',
      '# TYPE workqueue_depth gauge',
      'workqueue_depth{name="virtualmachine"} 184',
      'workqueue_depth{name="host"} 2',
      'workqueue_depth_other{name="host"} 7',
      'workqueue_adds_total{name="host"} 9',
    ].join('\n');
    expect(samplesByLabel(text, 'workqueue_depth', 'name')).toEqual({ virtualmachine: 184, host: 2 });
  });
});

describe('churnSchedule', () => {
  it('spreads each second evenly', () => {
    expect(churnSchedule(4, 2)).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750]);
    expect(churnSchedule(20, 60)).toHaveLength(1200);
    expect(churnSchedule(0, 60)).toEqual([]);
  });
});

describe('verdict', () => {
  it('says met, met at a smaller scale, or missed with the cause', () => {
    expect(verdict(40, 60, { fullScale: true })).toBe('met');
    expect(verdict(40, 60, { fullScale: false })).toBe('met at this smaller scale');
    expect(verdict(80, 60, { fullScale: true, cause: 'workers' })).toBe('**missed**: workers');
    expect(verdict(null, 60, { fullScale: true, missingMeans: 'not done in 600 s' })).toBe('**missed**: not done in 600 s');
  });
});

describe('leaseSettings', () => {
  it("reads the replicas' leader election timings from operator flags, else the defaults", async () => {
    const { leaseSettings } = await import('../../../src/bench/scale.js');
    expect(leaseSettings()).toEqual({ leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 });
    expect(leaseSettings(['--lease-duration=8s', '--renew-deadline', '6s', '--retry-period=1s', '--vm-workers=32'])).toEqual({
      leaseDurationSeconds: 8,
      renewDeadlineSeconds: 6,
      retryPeriodSeconds: 1,
    });
  });
});
