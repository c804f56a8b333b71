/**
 * `npm run bench`: runs the benchmarks, stores each result as JSON under
 * docs/bench-results/, and regenerates docs/benchmarks.md from all results.
 * Figures are reported, never asserted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runOperatorVms } from './operator-vms.js';
import { runAgentPrimitives } from './agent-primitives.js';
import { readPreviousRuns, runVmBurst } from './vm-burst.js';
import { renderReport } from './report.js';
import { runHaFailover } from './ha-failover.js';
import { runHostedEngineBench } from './hosted-engine.js';
import { DEFAULT_SCALE_OPTIONS, SCALE_SCENARIOS, runScale, type ScaleScenario } from './scale.js';
import { readPreviousScaleRuns } from './scale-report.js';

const repoRoot = process.env['DROVER_REPO_ROOT'] ?? resolve(import.meta.dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      vms: { type: 'string', default: '1000' },
      'idle-seconds': { type: 'string', default: '60' },
      'report-only': { type: 'boolean', default: false },
      // vm-burst: N (default: from the hosts' memory and CPU), its cap, the steady-state window.
      'burst-vms': { type: 'string' },
      'burst-max': { type: 'string', default: '40' },
      'burst-idle-seconds': { type: 'string', default: '30' },
      // vm-burst experiments: extra operator flags / its log level. Runs with any
      // vm-burst option changed are stored under .drover/bench-results/, not in
      // docs/ (the docs show the defaults).
      'operator-arg': { type: 'string', multiple: true },
      'operator-log-level': { type: 'string' },
      // vm-burst: copy the operator and agent logs here before cleaning up.
      'keep-logs': { type: 'string' },
      // vm-burst experiment: 'firmware' guests (no OS) instead of the tiny Linux guest.
      'burst-guest': { type: 'string' },
      // vm-burst experiment: 'kvm' (agents require KVM, VMs ask for it) instead of 'tcg'.
      'burst-acceleration': { type: 'string' },
      // ha-failover: runs (at least 5 for the report).
      'ha-runs': { type: 'string', default: '5' },
      // hosted-engine: runs (at least 5 for the report).
      'he-runs': { type: 'string', default: '5' },
      // scale (issue 8): simulated hosts, VMs, scenario lengths; the defaults are the issue's.
      'scale-hosts': { type: 'string' },
      'scale-vms': { type: 'string' },
      'scale-steady-seconds': { type: 'string' },
      'scale-churn-per-second': { type: 'string' },
      'scale-churn-seconds': { type: 'string' },
      'scale-host-loss-timeout': { type: 'string' },
      'scale-failover-timeout': { type: 'string' },
      'scale-latency-scale': { type: 'string' },
      // Comma-separated subset of cold,steady,churn,failover,hostloss (cold always runs).
      'scale-scenarios': { type: 'string' },
      // Write the operator's CPU profile (node --cpu-prof) into this directory.
      'scale-cpu-prof': { type: 'string' },
      // Extra Node.js flags of the operator (an experiment, stored under .drover/).
      'operator-node-arg': { type: 'string', multiple: true },
    },
  });
  const resultsDir = join(repoRoot, 'docs', 'bench-results');
  await mkdir(resultsDir, { recursive: true });
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
  if (!values['report-only'] && (!values.only || values.only === 'operator-1000-vms')) {
    const result = await runOperatorVms(repoRoot, { vms: Number(values.vms), idleSeconds: Number(values['idle-seconds']), createConcurrency: 32 }, (m) => console.error(m));
    await writeFile(join(resultsDir, 'operator-1000-vms.json'), JSON.stringify({ machine, ...result }, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  }
  if (!values['report-only'] && (!values.only || values.only === 'agent-primitives')) {
    const result = await runAgentPrimitives(repoRoot, (m) => console.error(m));
    await writeFile(join(resultsDir, 'agent-primitives.json'), JSON.stringify({ machine, ...result }, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  }
  if (!values['report-only'] && (!values.only || values.only === 'vm-burst')) {
    const experiment =
      (values['operator-arg'] ?? []).length > 0 || values['operator-log-level'] !== undefined || values['burst-vms'] !== undefined || values['burst-guest'] !== undefined || values['burst-acceleration'] !== undefined ||
      values['burst-max'] !== '40' || values['burst-idle-seconds'] !== '30';
    const guest = values['burst-guest'];
    if (guest !== undefined && guest !== 'linux' && guest !== 'firmware') throw new Error(`--burst-guest must be linux or firmware, got ${guest}`);
    const acceleration = values['burst-acceleration'];
    if (acceleration !== undefined && acceleration !== 'tcg' && acceleration !== 'kvm') throw new Error(`--burst-acceleration must be tcg or kvm, got ${acceleration}`);
    const result = await runVmBurst(
      repoRoot,
      {
        ...(values['burst-vms'] ? { vms: Number(values['burst-vms']) } : {}),
        maxVms: Number(values['burst-max']),
        idleSeconds: Number(values['burst-idle-seconds']),
        ...(values['operator-arg'] ? { operatorArgs: values['operator-arg'] } : {}),
        ...(values['operator-log-level'] ? { operatorLogLevel: values['operator-log-level'] } : {}),
        ...(values['keep-logs'] ? { keepLogsDir: resolve(values['keep-logs']) } : {}),
        ...(guest ? { guest } : {}),
        ...(acceleration ? { acceleration } : {}),
      },
      (m) => console.error(m),
    );
    const file = experiment
      ? join(repoRoot, '.drover', 'bench-results', `vm-burst-${machine.date.replace(/[:.]/g, '-')}.json`)
      : join(resultsDir, 'vm-burst.json');
    await mkdir(join(file, '..'), { recursive: true });
    const previousRuns = experiment ? [] : readPreviousRuns(file);
    await writeFile(file, JSON.stringify({ machine, ...result, previousRuns }, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
    console.error(`wrote ${file}`);
  }
  if (!values['report-only'] && (!values.only || values.only === 'ha-failover')) {
    const result = await runHaFailover(repoRoot, { runs: Number(values['ha-runs']) }, (m) => console.error(m));
    await writeFile(join(resultsDir, 'ha-failover.json'), JSON.stringify({ machine, scenario: 'ha-failover', ...result }, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  }
  if (!values['report-only'] && (!values.only || values.only === 'hosted-engine')) {
    const result = await runHostedEngineBench(repoRoot, { runs: Number(values['he-runs']) }, (m) => console.error(m));
    await writeFile(join(resultsDir, 'hosted-engine.json'), JSON.stringify({ machine, scenario: 'hosted-engine', ...result }, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  }
  // With the 100 hosts and 2,000 VMs (the defaults) this wants a quiet machine; --scale-* options make it smaller.
  if (!values['report-only'] && (!values.only || values.only === 'scale')) {
    const num = (flag: string, fallback: number) => {
      const v = values[flag as keyof typeof values];
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag} must be a number, got ${String(v)}`);
      return n;
    };
    const d = DEFAULT_SCALE_OPTIONS;
    const scenarios = (values['scale-scenarios'] ?? SCALE_SCENARIOS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of scenarios) if (!(SCALE_SCENARIOS as readonly string[]).includes(s)) throw new Error(`--scale-scenarios: unknown scenario ${s} (${SCALE_SCENARIOS.join(', ')})`);
    const cpuProf = values['scale-cpu-prof'] ? resolve(values['scale-cpu-prof']) : undefined;
    if (cpuProf) await mkdir(cpuProf, { recursive: true });
    const result = await runScale(
      repoRoot,
      {
        hosts: num('scale-hosts', d.hosts),
        vms: num('scale-vms', d.vms),
        latencyScale: num('scale-latency-scale', d.latencyScale),
        steadySeconds: num('scale-steady-seconds', d.steadySeconds),
        churnPerSecond: num('scale-churn-per-second', d.churnPerSecond),
        churnSeconds: num('scale-churn-seconds', d.churnSeconds),
        hostLossTimeoutSeconds: num('scale-host-loss-timeout', d.hostLossTimeoutSeconds),
        failoverTimeoutSeconds: num('scale-failover-timeout', d.failoverTimeoutSeconds),
        heartbeatIntervalSeconds: d.heartbeatIntervalSeconds,
        scenarios: scenarios as ScaleScenario[],
        ...(values['operator-arg'] ? { operatorArgs: values['operator-arg'] } : {}),
        ...(cpuProf ? { cpuProfileDir: cpuProf } : {}),
        ...(values['operator-node-arg'] ? { operatorNodeArgs: values['operator-node-arg'] } : {}),
        ...(values['keep-logs'] ? { keepLogsDir: resolve(values['keep-logs']) } : {}),
      },
      (m) => console.error(m),
    );
    // Experiments (profiled runs, which pay the profiler's cost; extra operator flags; a subset of the scenarios) are kept out of docs/.
    const experiment =
      cpuProf !== undefined || (values['operator-arg'] ?? []).length > 0 || (values['operator-node-arg'] ?? []).length > 0 || scenarios.length !== SCALE_SCENARIOS.length;
    const file = experiment
      ? join(repoRoot, '.drover', 'bench-results', `scale-${machine.date.replace(/[:.]/g, '-')}.json`)
      : join(resultsDir, 'scale.json');
    await mkdir(join(file, '..'), { recursive: true });
    const previousRuns = experiment ? [] : readPreviousScaleRuns(file);
    await writeFile(file, JSON.stringify({ machine: { ...machine, loadAverage: result.loadAverage }, ...result, previousRuns }, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
    console.error(`wrote ${file}`);
  }
  await writeFile(join(repoRoot, 'docs', 'benchmarks.md'), await renderReport(resultsDir));
  console.error('wrote docs/benchmarks.md');
}

await main();
// Everything is written and the test beds are stopped; a sampler or watch a scenario
// left behind when its operator exited must not keep the process (and the bench lock).
process.exit(process.exitCode ?? 0);
