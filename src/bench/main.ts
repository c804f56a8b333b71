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
import { renderReport } from './report.js';

const repoRoot = process.env['DROVER_REPO_ROOT'] ?? resolve(import.meta.dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      vms: { type: 'string', default: '1000' },
      'idle-seconds': { type: 'string', default: '60' },
      'report-only': { type: 'boolean', default: false },
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
  await writeFile(join(repoRoot, 'docs', 'benchmarks.md'), await renderReport(resultsDir));
  console.error('wrote docs/benchmarks.md');
}

await main();
