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
      // ha-failover: runs (at least 5 for the report).
      'ha-runs': { type: 'string', default: '5' },
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
      (values['operator-arg'] ?? []).length > 0 || values['operator-log-level'] !== undefined || values['burst-vms'] !== undefined || values['burst-guest'] !== undefined ||
      values['burst-max'] !== '40' || values['burst-idle-seconds'] !== '30';
    const guest = values['burst-guest'];
    if (guest !== undefined && guest !== 'linux' && guest !== 'firmware') throw new Error(`--burst-guest must be linux or firmware, got ${guest}`);
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
  await writeFile(join(repoRoot, 'docs', 'benchmarks.md'), await renderReport(resultsDir));
  console.error('wrote docs/benchmarks.md');
}

await main();
