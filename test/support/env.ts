/**
 * Helpers for integration tests against the real control plane started by
 * global-setup.ts: kubectl, namespaces, and operator processes running with
 * the deploy/ ServiceAccount's token (so RBAC in deploy/ is what's tested).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run, type ExecResult } from '../../src/dev/exec.js';

/** Admin kubeconfig of the test control plane. */
export function adminKubeconfig(): string {
  const path = process.env['DROVER_TEST_KUBECONFIG'];
  if (!path) throw new Error('DROVER_TEST_KUBECONFIG is not set: run through the integration jest project');
  return path;
}

/** The repository root. */
export function repoRoot(): string {
  return process.env['DROVER_REPO_ROOT'] ?? process.cwd();
}

/** The test state directory. */
export function stateDir(): string {
  return process.env['DROVER_TEST_STATE'] ?? join(repoRoot(), '.drover', 'test');
}

/** Runs kubectl as cluster admin; rejects on a non-zero exit. */
export function kubectl(args: string[], input?: string, kubeconfig = adminKubeconfig()): Promise<ExecResult> {
  return run('kubectl', ['--kubeconfig', kubeconfig, ...args], { input });
}

/** Runs kubectl and returns its exit status and output instead of throwing. */
export async function kubectlResult(args: string[], input?: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const r = await kubectl(args, input);
    return { ok: true, ...r };
  } catch (error) {
    return { ok: false, stdout: '', stderr: String((error as Error).message) };
  }
}

/** Reads one object as JSON. */
export async function getJson<T = Record<string, any>>(resource: string, name: string, namespace: string): Promise<T> {
  const { stdout } = await kubectl(['get', resource, name, '-n', namespace, '-o', 'json']);
  return JSON.parse(stdout) as T;
}

/** Creates a fresh namespace with a random suffix. */
export async function freshNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectl(['create', 'namespace', name]);
  return name;
}

/** Polls until `check` returns a value, or fails with the last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
