/** `drover dev up|down`: the local development environment (`npm run demo`). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { devDown, devUp } from '../dev/environment.js';

/** The checkout this drover was built from (dist/cli/ → repo root). */
function repoRoot(): string {
  return process.env['DROVER_REPO_ROOT'] ?? resolve(import.meta.dirname, '..', '..');
}

const USAGE = 'usage: drover dev up [--hosts N] [--timeout SECONDS] | drover dev down\n';

/** Runs `drover dev <up|down>`. */
export async function devCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const log = (line: string) => console.log(line);
  let values: { hosts: string; timeout: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { hosts: { type: 'string', default: '2' }, timeout: { type: 'string', default: '300' } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const hosts = Number(values.hosts);
  if (!Number.isInteger(hosts) || hosts < 0 || hosts > 16) {
    process.stderr.write('--hosts must be a whole number from 0 to 16\n');
    return 2;
  }
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    process.stderr.write('--timeout must be a positive number of seconds\n');
    return 2;
  }
  if (sub === 'up') await devUp(repoRoot(), log, { hosts, timeoutMs: timeout * 1000 });
  else if (sub === 'down') await devDown(repoRoot(), log);
  else {
    process.stderr.write(USAGE);
    return 2;
  }
  return 0;
}
