/**
 * Standard process metrics, read at scrape time so they cost nothing between
 * scrapes and need no timer. Names follow the Prometheus client conventions
 * dashboards already expect.
 */
import { performance } from 'node:perf_hooks';
import type { MetricFamily } from './exposition.js';
import type { Collector, Registry } from './metrics-registry.js';

const NAMES = [
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_external_memory_bytes',
] as const;

function gauge(name: string, help: string, value: number, type: 'gauge' | 'counter' = 'gauge'): MetricFamily {
  return { name, help, type, samples: [{ name, labels: [], value }] };
}

/** Collector for the process/runtime metrics listed in the module comment. */
export class ProcessCollector implements Collector {
  /** {@inheritDoc Collector.names} */
  readonly names: readonly string[] = NAMES;
  // timeOrigin is when this process started, in epoch ms.
  private readonly startSeconds = performance.timeOrigin / 1000;

  /** {@inheritDoc Collector.collect} */
  collect(): MetricFamily[] {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    return [
      gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', mem.rss),
      gauge('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6, 'counter'),
      gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', this.startSeconds),
      gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', mem.heapUsed),
      gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', mem.heapTotal),
      gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', mem.external),
    ];
  }
}

/** Registers the process metrics on `registry` (once per registry). */
export function defaultProcessMetrics(registry: Registry): ProcessCollector {
  return registry.register(new ProcessCollector());
}
