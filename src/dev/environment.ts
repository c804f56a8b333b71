/**
 * `drover dev up` / `drover dev down`: a local environment built from this
 * checkout — the real control plane, Drover's CRDs and RBAC from deploy/,
 * the operator running as a local process with the deploy/ ServiceAccount's
 * token (so local runs exercise the same RBAC as a cluster), and the examples.
 */
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readControlPlaneState, startControlPlane, stopControlPlane, freePort, writeKubeconfig, type ControlPlaneState } from './controlplane.js';
import { isAlive, run, startDetached, stopProcess, waitFor } from './exec.js';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { startDevHosts, stopDevHosts, type DevHosts } from './hosts.js';

/** Where `dev up` keeps its state, relative to the repository root. */
export const DEV_STATE_DIR = join('.drover', 'dev');

interface DevState {
  operatorPids: number[];
  healthPorts: number[];
}

async function readDevState(stateDir: string): Promise<DevState> {
  try {
    return JSON.parse(await readFile(join(stateDir, 'dev.json'), 'utf8')) as DevState;
  } catch {
    return { operatorPids: [], healthPorts: [] };
  }
}

/** kubectl as admin of the dev control plane. */
export function kubectlAdmin(state: ControlPlaneState, args: string[]) {
  return run('kubectl', ['--kubeconfig', state.adminKubeconfig, ...args]);
}

/** Installs CRDs and deploy/ (namespace, ServiceAccount, RBAC, Deployment). */
export async function installDeploy(repoRoot: string, state: ControlPlaneState): Promise<void> {
  await kubectlAdmin(state, ['apply', '--server-side', '--force-conflicts', '-k', join(repoRoot, 'deploy')]);
  await kubectlAdmin(state, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=drover']);
}

/**
 * Writes a kubeconfig authenticating as the operator's ServiceAccount, with a
 * token from the TokenRequest API.
 */
export async function operatorKubeconfig(state: ControlPlaneState, path: string, namespace = 'drover-system'): Promise<string> {
  const { stdout } = await kubectlAdmin(state, ['create', 'token', 'drover-operator', '-n', namespace, '--duration=24h']);
  await writeKubeconfig(path, state.url, state.pki.caCert, { token: stdout.trim() }, 'drover-operator', namespace);
  return path;
}

/**
 * V8 flags for operator processes (also set in the image): a 2 MiB young
 * generation keeps the idle RSS near the floor client-node's module size sets
 * (see docs/benchmarks.md) at a small CPU cost.
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=2'];

/** Starts one operator process from dist/; returns its pid and health port. */
export async function startOperatorProcess(
  repoRoot: string,
  kubeconfig: string,
  logFile: string,
  extraArgs: string[] = [],
): Promise<{ pid: number; healthPort: number }> {
  const healthPort = await freePort();
  const pid = startDetached(
    process.execPath,
    [...OPERATOR_NODE_FLAGS, join(repoRoot, 'dist', 'cli', 'main.js'), 'operator', '--kubeconfig', kubeconfig, '--lease-namespace', 'drover-system', '--health-addr', `127.0.0.1:${healthPort}`, ...extraArgs],
    logFile,
  );
  return { pid, healthPort };
}

/** Resolves once an mTLS handshake with the agent at ip:port succeeds. */
export async function waitForAgent(hosts: DevHosts, ip: string, port: number, timeoutMs = 60_000): Promise<void> {
  const options = {
    host: ip,
    port,
    ca: readFileSync(hosts.pki.caCert),
    cert: readFileSync(hosts.pki.operatorCert),
    key: readFileSync(hosts.pki.operatorKey),
  };
  await waitFor(
    `the agent at ${ip}:${port}`,
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = connect(options, () => {
          socket.end();
          resolve(true);
        });
        socket.on('error', () => resolve(undefined));
      }),
    timeoutMs,
    200,
  );
}

/** Options of `drover dev up`. */
export interface DevUpOptions {
  /** Test hosts to create (each with libvirt and an agent); 0 for none. */
  hosts: number;
}

/** Brings the dev environment up and prints where things are. */
export async function devUp(repoRoot: string, log: (line: string) => void, options: DevUpOptions = { hosts: 2 }): Promise<void> {
  const stateDir = join(repoRoot, DEV_STATE_DIR);
  await mkdir(stateDir, { recursive: true });
  log('starting etcd and kube-apiserver');
  const state = await startControlPlane(repoRoot, stateDir, log);
  await copyFile(state.adminKubeconfig, join(stateDir, 'kubeconfig'));
  log('installing CRDs and deploy/');
  await installDeploy(repoRoot, state);
  const dev = await readDevState(stateDir);
  if (!dev.operatorPids.some(isAlive)) {
    const kubeconfig = await operatorKubeconfig(state, join(stateDir, 'operator.kubeconfig'));
    const operator = await startOperatorProcess(repoRoot, kubeconfig, join(stateDir, 'operator.log'));
    dev.operatorPids = [operator.pid];
    dev.healthPorts = [operator.healthPort];
    await writeFile(join(stateDir, 'dev.json'), JSON.stringify(dev, null, 2));
    log(`operator started (pid ${operator.pid}, health on 127.0.0.1:${operator.healthPort})`);
  }
  if (options.hosts > 0) {
    log(`starting ${options.hosts} test hosts (network + mount namespaces, libvirtd, agent)`);
    const hosts = await startDevHosts(repoRoot, { stateDir: join(stateDir, 'testbed'), hosts: options.hosts });
    for (const agent of hosts.agents) {
      await waitForAgent(hosts, agent.ip, agent.port);
      log(`  ${agent.host}: agent on https://${agent.ip}:${agent.port} (pid ${agent.pid}, log ${agent.logFile})`);
    }
  }
  log('applying examples/standalone');
  await kubectlAdmin(state, ['apply', '--server-side', '-f', join(repoRoot, 'examples', 'standalone')]);
  await waitFor(
    'the operator to reconcile the example Manager',
    async () => {
      const { stdout } = await kubectlAdmin(state, ['get', 'manager', 'demo', '-n', 'drover-demo', '-o', 'jsonpath={.status.observedGeneration}']);
      return stdout.trim() ? true : undefined;
    },
    60_000,
    250,
  );
  const { stdout } = await kubectlAdmin(state, ['get', 'managers,hosts,storagedomains,virtualmachines', '-n', 'drover-demo']);
  log(stdout);
  log(`export KUBECONFIG=${join(stateDir, 'kubeconfig')}`);
}

/** Stops everything `devUp` started. */
export async function devDown(repoRoot: string, log: (line: string) => void): Promise<void> {
  const stateDir = join(repoRoot, DEV_STATE_DIR);
  const dev = await readDevState(stateDir);
  for (const pid of dev.operatorPids) await stopProcess(pid);
  await stopDevHosts(join(stateDir, 'testbed'));
  await rm(join(stateDir, 'dev.json'), { force: true });
  if (await readControlPlaneState(stateDir)) log('stopping kube-apiserver and etcd');
  await stopControlPlane(stateDir);
  log('dev environment stopped');
}
