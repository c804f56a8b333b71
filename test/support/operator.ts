/**
 * Operator processes for integration tests: built dist/, started as real
 * processes authenticated with the deploy/ ServiceAccount's token.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readControlPlaneState } from '../../src/dev/controlplane.js';
import { installDeploy, operatorKubeconfig, startOperatorProcess } from '../../src/dev/environment.js';
import { isAlive } from '../../src/dev/exec.js';
import { sumSamples } from '../../src/runtime/prometheus-text.js';
import { kubectl, repoRoot, stateDir } from './env.js';

/** A running operator process. */
export interface OperatorProcess {
  identity: string;
  pid: number;
  healthPort: number;
  logFile: string;
}

let tokenKubeconfig: string | undefined;

/** Installs deploy/ and returns a kubeconfig with the operator ServiceAccount's token (once per run). */
export async function operatorCredentials(): Promise<string> {
  if (tokenKubeconfig) return tokenKubeconfig;
  const state = await readControlPlaneState(stateDir());
  if (!state) throw new Error('no control plane state');
  await installDeploy(repoRoot(), state);
  tokenKubeconfig = await operatorKubeconfig(state, join(stateDir(), 'operator-sa.kubeconfig'));
  return tokenKubeconfig;
}

/** Short leader-election timings so failover tests take seconds. */
export const FAST_LEASE = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };

/** Starts an operator with `identity` and fast leader election. */
export async function startOperator(identity: string, extraArgs: string[] = []): Promise<OperatorProcess> {
  const kubeconfig = await operatorCredentials();
  const logFile = join(stateDir(), `operator-${identity}.log`);
  const { pid, healthPort } = await startOperatorProcess(repoRoot(), kubeconfig, logFile, [
    `--identity=${identity}`,
    `--lease-duration=${FAST_LEASE.leaseDurationMs}ms`,
    `--renew-deadline=${FAST_LEASE.renewDeadlineMs}ms`,
    `--retry-period=${FAST_LEASE.retryPeriodMs}ms`,
    // Several operators run at once: each gets its own enrollment port unless
    // the test names one (a later --enroll-listen in extraArgs wins).
    '--enroll-listen=127.0.0.1:0',
    ...extraArgs,
  ]);
  return { identity, pid, healthPort, logFile };
}

/** Sends `signal` and waits for the process to be gone. */
export async function killOperator(op: OperatorProcess, signal: NodeJS.Signals): Promise<void> {
  try {
    process.kill(op.pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + 40_000;
  while (isAlive(op.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (isAlive(op.pid)) throw new Error(`operator ${op.identity} did not exit after ${signal}`);
}

/** The Lease's current holder ('' when released, undefined when absent). */
export async function leaseHolder(): Promise<string | undefined> {
  try {
    const { stdout } = await kubectl(['get', 'lease', 'drover-operator', '-n', 'drover-system', '-o', 'jsonpath={.spec.holderIdentity}']);
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** Scrapes an operator's /metrics and sums the samples of `name` (optionally filtered by a label substring). */
export async function metricSum(op: OperatorProcess, name: string, labelFilter = ''): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${op.healthPort}/metrics`);
  return sumSamples(await res.text(), name, labelFilter);
}

/** Parsed JSON log lines of an operator. */
export async function operatorLog(op: OperatorProcess): Promise<Record<string, any>[]> {
  const text = await readFile(op.logFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}
