/** `drover dev up|down`: the local development environment. */
import { resolve } from 'node:path';
import { devDown, devUp } from '../dev/environment.js';

/** The checkout this drover was built from (dist/cli/ → repo root). */
function repoRoot(): string {
  return process.env['DROVER_REPO_ROOT'] ?? resolve(import.meta.dirname, '..', '..');
}

/** Runs `drover dev <up|down>`. */
export async function devCommand(argv: string[]): Promise<number> {
  const [sub] = argv;
  const log = (line: string) => console.log(line);
  if (sub === 'up') await devUp(repoRoot(), log);
  else if (sub === 'down') await devDown(repoRoot(), log);
  else {
    process.stderr.write('usage: drover dev up|down\n');
    return 2;
  }
  return 0;
}
