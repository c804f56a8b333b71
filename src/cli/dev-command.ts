/**
 * `drover dev up|down`: the local development environment (`npm run demo`);
 * `drover dev fence-testbed`: the test bed's fence agent (fence-agents stdin
 * protocol), run by the operator like `fence_ipmilan`.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { devDown, devUp } from '../dev/environment.js';

/** The checkout this drover was built from (dist/cli/ → repo root). */
function repoRoot(): string {
  return process.env['DROVER_REPO_ROOT'] ?? resolve(import.meta.dirname, '..', '..');
}

const USAGE =
  'usage: drover dev up [--hosts N] [--timeout SECONDS] | drover dev down\n' +
  '       drover dev fence-testbed < options (action=on|off|reboot|status|monitor|list|metadata|restart-agent, plug=<host>, state_dir=<dir>)\n';

/** Reads all of stdin (the fence options). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `drover dev fence-testbed`: options on stdin, exit code per the fence-agents
 * conventions (status: 0 on, 2 off, 1 error). Loaded only when run.
 */
async function fenceTestbed(): Promise<number> {
  const { parseFenceRequest, runTestbedFence, STATE_DIR_OPTION } = await import('../dev/testbed/index.js');
  let req;
  try {
    req = parseFenceRequest(await readStdin(), [STATE_DIR_OPTION]);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
  for (const w of req.warnings) process.stderr.write(`warning: ${w}\n`);
  const result = await runTestbedFence(req);
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  return result.code;
}

/** Runs `drover dev <up|down>`. */
export async function devCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'fence-testbed') return fenceTestbed();
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
