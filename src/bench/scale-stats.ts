/**
 * Pure figures of the scale benchmark: distributions, writes per minute by
 * resource, the heartbeat write budget, and summaries of sampled gauges.
 * Kept apart from the scenario code so they are unit-tested.
 */
import { percentile } from './procstat.js';
import type { RequestCounts } from './apiserver-metrics.js';

/** Distribution of a set of durations (ms, one decimal). */
export interface Dist {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
}

export const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** p50/p95/p99/max of `values`; all NaN-free zeros with n = 0 when empty. */
export function distribution(values: readonly number[]): Dist {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0, n: 0 };
  const v = [...values];
  return { p50: round(percentile(v, 50)), p95: round(percentile(v, 95)), p99: round(percentile(v, 99)), max: round(Math.max(...v)), n: v.length };
}

const WRITE_VERB = /^(POST|PUT|PATCH|APPLY|CREATE|UPDATE|DELETE)\b/;

/**
 * Writes per minute by `VERB resource[/sub]` over a window of `seconds`
 * (only write verbs; keys with no writes left out), one decimal.
 */
export function writesPerMinute(counts: RequestCounts, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    if (WRITE_VERB.test(key) && n > 0) out[key] = round((n * 60) / seconds);
  }
  return out;
}

/** Resources the operator owns or writes for its kinds (Leases and the API server's own objects are not among them). */
export const DROVER_RESOURCE = /^\w+ (managers|hosts|storagedomains|virtualmachines|virtualmachinemigrations|events)(\/\w+)?$/;

/**
 * The steady-state verdict: Host status writes against the heartbeat
 * budget (one write per host per heartbeat interval), and every other write
 * to Drover's kinds and Events (target: none).
 */
export function steadyVerdict(
  counts: RequestCounts,
  o: { seconds: number; hosts: number; heartbeatIntervalSeconds: number },
): { hostStatusWrites: number; budget: number; writesPerHostPerInterval: number; otherDroverWrites: number; otherByKey: Record<string, number> } {
  let hostStatusWrites = 0;
  let otherDroverWrites = 0;
  const otherByKey: Record<string, number> = {};
  for (const [key, n] of counts) {
    if (!WRITE_VERB.test(key) || !DROVER_RESOURCE.test(key)) continue;
    if (/ hosts\/status$/.test(key)) hostStatusWrites += n;
    else {
      otherDroverWrites += n;
      otherByKey[key] = n;
    }
  }
  const intervals = o.seconds / o.heartbeatIntervalSeconds;
  const budget = Math.floor(o.hosts * intervals);
  return { hostStatusWrites, budget, writesPerHostPerInterval: round(o.hosts > 0 && intervals > 0 ? hostStatusWrites / o.hosts / intervals : 0, 3), otherDroverWrites, otherByKey };
}

/** A gauge sampled over time. */
export interface GaugeSummary {
  max: number;
  p95: number;
  mean: number;
  samples: number;
}

/** Max, p95 and mean of gauge samples. */
export function summarizeGauge(samples: readonly number[]): GaugeSummary {
  if (samples.length === 0) return { max: 0, p95: 0, mean: 0, samples: 0 };
  const v = [...samples];
  return { max: Math.max(...v), p95: percentile(v, 95), mean: round(v.reduce((s, x) => s + x, 0) / v.length, 2), samples: v.length };
}

/** Values of a metric by the value of one label (e.g. workqueue_depth by `name`), from Prometheus text. */
export function samplesByLabel(text: string, metric: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const value = new RegExp(`(?:^|,)${label}="([^"]*)"`).exec(m[1]!)?.[1];
    if (value !== undefined) out[value] = (out[value] ?? 0) + Number(m[2]);
  }
  return out;
}

/**
 * Times at which to send the n-th create (or delete) of a churn at `perSecond`
 * for `seconds`, in ms from the start, spread evenly within each second.
 */
export function churnSchedule(perSecond: number, seconds: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < seconds; s++) for (let i = 0; i < perSecond; i++) out.push(Math.round(s * 1000 + (i * 1000) / perSecond));
  return out;
}
