/**
 * The Prometheus text exposition format, version 0.0.4: the data model of a
 * scrape and its rendering. Kept apart from the registry so custom collectors
 * (process metrics) produce the same shapes the built-in metrics do.
 */

/** Content-Type of a text-format scrape response. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The metric types this registry exposes. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'untyped';

/** One exposed line: full sample name (with `_bucket`/`_sum`/`_count` suffix), labels, value. */
export interface Sample {
  /** Sample name, e.g. `foo_total` or `foo_bucket`. */
  name: string;
  /** Label pairs in exposition order. */
  labels: ReadonlyArray<readonly [string, string]>;
  /** Sample value. */
  value: number;
}

/** A metric family: one `# HELP` / `# TYPE` header and its samples. */
export interface MetricFamily {
  /** Family name. */
  name: string;
  /** Help text (escaped on output). */
  help: string;
  /** Metric type. */
  type: MetricType;
  /** Samples, in output order. */
  samples: Sample[];
}

/** Formats a sample value the way Prometheus parses it (`+Inf`, `-Inf`, `NaN`). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

const NEEDS_ESCAPE = /[\\"\n]/;

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  // Most values need nothing: one scan instead of three replaces (a scrape renders thousands).
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and newline (quotes are literal there). */
export function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderSample(sample: Sample): string {
  const labels =
    sample.labels.length === 0
      ? ''
      : `{${sample.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
  return `${sample.name}${labels} ${formatValue(sample.value)}\n`;
}

/** Renders families as a text-format 0.0.4 body (ends with a newline when non-empty). */
export function renderText(families: readonly MetricFamily[]): string {
  let out = '';
  for (const family of families) {
    out += `# HELP ${family.name} ${escapeHelp(family.help)}\n`;
    out += `# TYPE ${family.name} ${family.type}\n`;
    for (const sample of family.samples) out += renderSample(sample);
  }
  return out;
}
