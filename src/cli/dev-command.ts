/** `drover dev up|down`: the local development environment. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { devDown, devUp } from '../dev/environment.js';

/** The checkout this drover was built from (dist/cli/ → repo root). */
function repoRoot(): string {
  return process.env['DROVER_REPO_ROOT'] ?? resolve(import.meta.dirname, '..', '..');
}

/** Runs `drover dev <up|down>`. */
export async function devCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const log = (line: string) => console.log(line);
  const { values } = parseArgs({ args: rest, options: { hosts: { type: 'string', default: '2' } }, strict: true });
  const hosts = Number(values.hosts);
  if (!Number.isInteger(hosts) || hosts < 0 || hosts > 16) {
    process.stderr.write('--hosts must be a whole number from 0 to 16\n');
    return 2;
  }
  if (sub === 'up') await devUp(repoRoot(), log, { hosts });
  else if (sub === 'down') await devDown(repoRoot(), log);
  else {
    process.stderr.write('usage: drover dev up [--hosts N] | drover dev down\n');
    return 2;
  }
  return 0;
}
