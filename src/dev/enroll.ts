/**
 * What `drover dev up` and the end-to-end tests do around host enrollment,
 * through the same interfaces a user has: kubectl for objects and the
 * `drover token create` command for bootstrap tokens. Everything takes a
 * `kubectl` function, so the caller decides the kubeconfig.
 */
import { join } from 'node:path';
import { run, sleep, type ExecResult } from './exec.js';
import { tail } from './testbed/index.js';

/** Port of the operator's enrollment endpoint (`--enroll-listen`) in the dev environment and tests. */
export const ENROLL_PORT = 9443;

/** Runs kubectl (with the caller's kubeconfig); rejects on a non-zero exit. */
export type Kubectl = (args: string[], input?: string) => Promise<ExecResult>;

/** A Kubernetes object as kubectl prints it with `-o json`. */
export type KubeJson = {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; generation?: number; [k: string]: unknown };
  spec?: Record<string, any>;
  status?: Record<string, any>;
  [k: string]: unknown;
};

/** Something whose death should end a wait at once (the operator, an agent). */
export interface Watched {
  what: string;
  alive: () => boolean | Promise<boolean>;
  logFile?: string;
}

async function assertAlive(watched: readonly Watched[]): Promise<void> {
  for (const w of watched) {
    if (!(await w.alive())) {
      throw new Error(`${w.what} exited${w.logFile ? `; ${w.logFile}:\n${await tail(w.logFile)}` : ''}`);
    }
  }
}

/** One object as JSON, or undefined when it does not exist. */
export async function getObject(kubectl: Kubectl, kind: string, name: string, namespace: string): Promise<KubeJson | undefined> {
  try {
    const { stdout } = await kubectl(['get', kind, name, '-n', namespace, '-o', 'json']);
    return JSON.parse(stdout) as KubeJson;
  } catch (error) {
    if (/NotFound|not found/.test(String((error as Error).message))) return undefined;
    throw error;
  }
}

/**
 * Polls `kubectl get <kind> <name> -n <namespace> -o json` until `predicate`
 * holds for the object, and returns it. Fails after `timeoutMs` showing the
 * object's last status, or at once when one of `watched` dies.
 */
export async function waitForObject(
  kubectl: Kubectl,
  kind: string,
  name: string,
  namespace: string,
  predicate: (obj: KubeJson) => boolean,
  timeoutMs: number,
  options: { intervalMs?: number; watched?: readonly Watched[] } = {},
): Promise<KubeJson> {
  const deadline = Date.now() + timeoutMs;
  let last: KubeJson | undefined;
  let lastError: unknown;
  for (;;) {
    await assertAlive(options.watched ?? []);
    try {
      last = await getObject(kubectl, kind, name, namespace);
      lastError = undefined;
      if (last && predicate(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const seen = last ? `last status: ${JSON.stringify(last.status ?? {})}` : lastError ? `last error: ${String(lastError)}` : 'it does not exist';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${kind}/${name} in ${namespace}; ${seen}`);
    }
    await sleep(options.intervalMs ?? 500);
  }
}

/** The Manager's CA as published in its status and Secret. */
export interface ManagerCaInfo {
  /** `sha256:<hex>`: what agents pass as `--ca-cert-hash`. */
  caCertHash: string;
  caSecretName: string;
  /** PEM of the CA certificate (the Secret's `tls.crt`). */
  caCertPem: string;
}

/**
 * Waits for the operator to create the Manager's CA (`status.pki`) and reads
 * the CA certificate from its Secret.
 */
export async function waitForManagerCa(
  kubectl: Kubectl,
  namespace: string,
  manager: string,
  timeoutMs = 60_000,
  watched: readonly Watched[] = [],
): Promise<ManagerCaInfo> {
  const obj = await waitForObject(kubectl, 'manager', manager, namespace, (m) => Boolean(m.status?.['pki']?.caCertHash), timeoutMs, { watched });
  const pki = obj.status!['pki'] as { caCertHash: string; caSecretName: string };
  const { stdout } = await kubectl(['get', 'secret', pki.caSecretName, '-n', namespace, '-o', 'jsonpath={.data.tls\\.crt}']);
  const caCertPem = Buffer.from(stdout.trim(), 'base64').toString('utf8');
  if (!caCertPem.includes('BEGIN CERTIFICATE')) throw new Error(`Secret ${namespace}/${pki.caSecretName} has no tls.crt certificate`);
  return { caCertHash: pki.caCertHash, caSecretName: pki.caSecretName, caCertPem };
}

/** A bootstrap token as `drover token create` prints it. */
const TOKEN_LINE = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/**
 * Creates a bootstrap token bound to one Host with `drover token create`
 * (this checkout's dist/), as an admin would; returns `<id>.<secret>`.
 */
export async function createBootstrapToken(
  repoRoot: string,
  kubeconfig: string,
  options: { namespace: string; host: string; ttl?: string },
): Promise<string> {
  const { stdout } = await run(process.execPath, [
    join(repoRoot, 'dist', 'cli', 'main.js'), 'token', 'create',
    '--namespace', options.namespace, '--host', options.host, '--ttl', options.ttl ?? '1h', '--kubeconfig', kubeconfig,
  ]);
  const token = stdout.split('\n').map((l) => l.trim()).reverse().find((l) => TOKEN_LINE.test(l));
  if (!token) throw new Error(`drover token create printed no token:\n${stdout}`);
  return token;
}

/** `<id>.****`: a token fit for logs (the id names its Secret, `bootstrap-token-<id>`). */
export function redactToken(token: string): string {
  return `${token.split('.')[0]}.${'*'.repeat(16)}`;
}

/** Phase of an object, with the reason of a False Ready condition (`Installing (AgentNotEnrolled)`). */
export function phaseOf(obj: KubeJson): string {
  const phase = (obj.status?.['phase'] as string | undefined) ?? '-';
  const ready = (obj.status?.['conditions'] as { type: string; status: string; reason?: string }[] | undefined)?.find((c) => c.type === 'Ready');
  return ready && ready.status !== 'True' && ready.reason ? `${phase} (${ready.reason})` : phase;
}
