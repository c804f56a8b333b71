import { describe, expect, it } from '@jest/globals';
import { Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, Registry, RuntimeMetrics, defaultProcessMetrics } from '../../../src/runtime/metrics.js';

describe('Registry text exposition', () => {
  it('renders counters, gauges and histograms exactly in format 0.0.4', () => {
    const r = new Registry();
    const requests = r.counter({ name: 'http_requests_total', help: 'Requests.\nSecond line with \\ backslash', labelNames: ['code', 'path'] });
    requests.inc({ code: '200', path: '/a' });
    requests.inc({ code: '200', path: '/a' }, 2);
    requests.inc({ code: '500', path: 'say "hi"\\\n' });
    const up = r.gauge({ name: 'up', help: 'Up.' });
    up.set(1);
    const temp = r.gauge({ name: 'temperature', help: 'Temp.', labelNames: ['room'] });
    temp.set({ room: 'a' }, -1.5);
    temp.inc({ room: 'a' }, 0.25);
    const inf = r.gauge({ name: 'weird', help: 'Odd values.', labelNames: ['kind'] });
    inf.set({ kind: 'pos' }, Infinity);
    inf.set({ kind: 'nan' }, NaN);
    const h = r.histogram({ name: 'latency_seconds', help: 'Latency.', labelNames: ['op'], buckets: [0.1, 1, 2.5] });
    h.observe({ op: 'get' }, 0.05);
    h.observe({ op: 'get' }, 0.1); // on the boundary: counts in le="0.1"
    h.observe({ op: 'get' }, 2);
    h.observe({ op: 'get' }, 7);
    r.counter({ name: 'never_used_total', help: 'Labelled and empty: omitted.', labelNames: ['x'] });
    r.counter({ name: 'plain_total', help: 'Unlabelled: exposed at zero.' });

    expect(r.metrics()).toBe(
      [
        '# HELP http_requests_total Requests.\\nSecond line with \\\\ backslash',
        '# TYPE http_requests_total counter',
        'http_requests_total{code="200",path="/a"} 3',
        'http_requests_total{code="500",path="say \\"hi\\"\\\\\\n"} 1',
        '# HELP up Up.',
        '# TYPE up gauge',
        'up 1',
        '# HELP temperature Temp.',
        '# TYPE temperature gauge',
        'temperature{room="a"} -1.25',
        '# HELP weird Odd values.',
        '# TYPE weird gauge',
        'weird{kind="pos"} +Inf',
        'weird{kind="nan"} NaN',
        '# HELP latency_seconds Latency.',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{op="get",le="0.1"} 2',
        'latency_seconds_bucket{op="get",le="1"} 2',
        'latency_seconds_bucket{op="get",le="2.5"} 3',
        'latency_seconds_bucket{op="get",le="+Inf"} 4',
        'latency_seconds_sum{op="get"} 9.15',
        'latency_seconds_count{op="get"} 4',
        '# HELP plain_total Unlabelled: exposed at zero.',
        '# TYPE plain_total counter',
        'plain_total 0',
        '',
      ].join('\n'),
    );
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('rejects invalid use', () => {
    const r = new Registry();
    const c = r.counter({ name: 'a_total', help: 'A.', labelNames: ['x'] });
    expect(() => c.inc({ x: 'v' }, -1)).toThrow(/only increase/);
    expect(() => c.inc({} as { x: string })).toThrow(/missing label x/);
    expect(() => r.counter({ name: 'a_total', help: 'dup' })).toThrow(/already registered/);
    expect(() => new Counter({ name: 'bad-name', help: '' })).toThrow(/invalid metric name/);
    expect(() => new Gauge({ name: 'g', help: '', labelNames: ['__reserved'] })).toThrow(/invalid label name/);
    expect(() => new Histogram({ name: 'h', help: '', labelNames: ['le'] })).toThrow(/invalid label name/);
    expect(() => new Histogram({ name: 'h', help: '', buckets: [1, 1] })).toThrow(/increase/);
  });

  it('refreshes scrape-time gauges and exposes process metrics', () => {
    const r = new Registry();
    let source = 3;
    r.gauge({ name: 'live_value', help: 'Read at scrape.', collect: (g) => g.set(source) });
    defaultProcessMetrics(r);
    expect(r.metrics()).toContain('live_value 3\n');
    source = 4;
    const text = r.metrics();
    expect(text).toContain('live_value 4\n');
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    expect(text).toMatch(/^process_cpu_seconds_total [\d.e-]+$/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+$/m);
    const start = Number(/^process_start_time_seconds (\S+)$/m.exec(text)?.[1]);
    expect(start).toBeGreaterThan(1_600_000_000);
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);
  });
});

describe('RuntimeMetrics', () => {
  it('defines the controller-runtime families and pre-creates per-controller series', () => {
    const r = new Registry();
    const m = new RuntimeMetrics(r);
    const hooks = m.controller('host');
    m.workQueue('host');
    const le = m.leaderElection('drover-leader');
    hooks.reconcileTotal('requeue');
    hooks.activeWorkers(1);
    le.leading(true);
    const text = r.metrics();
    for (const line of [
      'controller_runtime_reconcile_total{controller="host",result="success"} 0',
      'controller_runtime_reconcile_total{controller="host",result="requeue"} 1',
      'controller_runtime_reconcile_errors_total{controller="host"} 0',
      'controller_runtime_terminal_reconcile_errors_total{controller="host"} 0',
      'controller_runtime_active_workers{controller="host"} 1',
      'workqueue_depth{name="host"} 0',
      'workqueue_adds_total{name="host"} 0',
      'workqueue_retries_total{name="host"} 0',
      'leader_election_master_status{name="drover-leader"} 1',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
    expect(() => new RuntimeMetrics(r)).toThrow(/already registered/);
  });
});
