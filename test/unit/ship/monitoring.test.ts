/**
 * deploy/monitoring uses only metrics the operator registers: every PromQL
 * expression of the PrometheusRule and the Grafana dashboard is parsed by
 * Prometheus' own parser (tools/promql, built with Go and cached), and each
 * metric it selects must be a sample name of the operator's registry.
 */
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createOperatorMetrics } from '../../../src/operator/metrics.js';
import type { Informers } from '../../../src/controllers/context.js';
import { runGoTool } from '../../support/go-tool.js';

jest.setTimeout(600_000); // the first run builds tools/promql

const dir = join(import.meta.dirname, '../../../deploy/monitoring');
interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const ruleDoc = parse(readFileSync(join(dir, 'prometheusrule.yaml'), 'utf8')) as { kind: string; spec: { groups: Array<{ name: string; rules: Rule[] }> } };
const rules = ruleDoc.spec.groups.flatMap((g) => g.rules);
interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(join(dir, 'grafana-dashboard.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ type: string; definition?: string }> };
};
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
/** Grafana's interval variables are not PromQL; the rest of each query is. */
const promql = (expr: string) => expr.replace(/\$__(rate_)?interval/g, '5m').replace(/\$__range/g, '1h');

/** Every sample name the operator's /metrics can carry. */
function exportedSampleNames(): Set<string> {
  const informers = new Proxy({}, { get: () => ({ list: () => [] }) }) as unknown as Informers;
  const { registry } = createOperatorMetrics({ informers, active: () => false });
  const names = new Set<string>();
  for (const f of registry.describe()) {
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(f.name + s);
    else names.add(f.name);
  }
  return names;
}

let parsed: Array<{ expr: string; metrics?: string[]; error?: string }>;
const exprs = [...rules.map((r) => r.expr), ...panels.flatMap((p) => (p.targets ?? []).map((t) => promql(t.expr)))];

beforeAll(async () => {
  parsed = await runGoTool('promql', exprs.map((e) => JSON.stringify(e)).join('\n') + '\n');
});

describe('deploy/monitoring', () => {
  it('has the alerts the environment needs, each with a duration, a severity and a summary', () => {
    expect(ruleDoc.kind).toBe('PrometheusRule');
    const alerts = rules.map((r) => r.alert);
    expect(alerts).toEqual(
      expect.arrayContaining(['DroverHostNonResponsive', 'DroverVirtualMachineFailoverBlocked', 'DroverStorageDomainNearlyFull', 'DroverManagerNotHighlyAvailable']),
    );
    for (const r of rules) {
      expect({ alert: r.alert, for: r.for }).toEqual({ alert: r.alert, for: expect.stringMatching(/^\d+[smh]$/) });
      expect(['critical', 'warning']).toContain(r.labels?.['severity']);
      expect(r.annotations?.['summary']).toBeTruthy();
    }
  });

  it('every rule and dashboard query parses as PromQL', () => {
    expect(parsed).toHaveLength(exprs.length);
    expect(panels.filter((p) => p.type !== 'row').length).toBeGreaterThanOrEqual(10);
    for (const p of parsed) expect({ expr: p.expr, error: p.error }).toEqual({ expr: p.expr, error: undefined });
  });

  it('every metric they select is one the operator registers', () => {
    const exported = exportedSampleNames();
    const used = new Set(parsed.flatMap((p) => p.metrics ?? []));
    // The dashboard's namespace variable reads a metric too.
    for (const v of dashboard.templating.list) {
      const m = /label_values\((\w+)/.exec(v.definition ?? '');
      if (m) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThanOrEqual(12);
    for (const name of used) expect({ name, exported: exported.has(name) }).toEqual({ name, exported: true });
    // The four alerts of issue 7 read the environment metrics themselves.
    for (const name of ['drover_host_status_phase', 'drover_virtualmachine_status_condition', 'drover_storagedomain_free_bytes', 'drover_manager_status_condition']) {
      expect(used).toContain(name);
    }
  });

  it('the check itself catches a name the operator does not export', () => {
    expect(exportedSampleNames().has('drover_hosts_nonresponsive')).toBe(false);
    expect(exportedSampleNames().has('drover_agent_heartbeat_duration_seconds_bucket')).toBe(true);
  });
});
