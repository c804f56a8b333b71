/**
 * The full stack for host-backed benchmarks, brought up the way
 * test/support/e2e.ts `startE2E` and `drover dev up` do, but on a control
 * plane of its own (so the API server's request counters only see this run):
 *
 *   control plane (etcd + kube-apiserver, RBAC) → deploy/ (CRDs, namespace,
 *   ServiceAccount, RBAC) → test bed (network + libvirt, no agents) →
 *   operator process with the ServiceAccount's token and
 *   `--enroll-listen=<gateway>:9443` → namespace, Manager, one Host per
 *   test-bed host → the Manager's CA → a bootstrap token per Host
 *   (`drover token create`) → agents enrolling → a PosixFS StorageDomain on
 *   the shared directory → Hosts Up, StorageDomain Active.
 *
 * Everything lives under one state directory; `stop()` (and a failed start)
 * stops the operator, the test bed and the control plane and removes the
 * directory. A rerun first cleans up what an interrupted run left there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startControlPlane, stopControlPlane, type ControlPlaneState } from '../dev/controlplane.js';
import {
  ENROLL_PORT,
  createBootstrapToken,
  getObject,
  waitForManagerCa,
  waitForObject,
  type KubeJson,
  type Kubectl,
  type ManagerCaInfo,
  type Watched,
} from '../dev/enroll.js';
import { installDeploy, kubectlAdmin, operatorKubeconfig, startOperatorProcess } from '../dev/environment.js';
import { isAlive, stopProcess, waitFor } from '../dev/exec.js';
import { prepareDevHosts, startEnrollAgents, stopDevHosts, waitForEnrolledAgent, type DevAgent } from '../dev/hosts.js';
import { tail, type Testbed } from '../dev/testbed/index.js';

const API = 'drover.io/v1alpha1';

/** Options of {@link startBenchEnv}. */
export interface BenchEnvOptions {
  /** State directory (created; removed again by stop()). */
  stateDir: string;
  /** Test-bed name prefix (netns `<prefix>-1`...), `[a-z][a-z0-9]{0,7}`. */
  namePrefix: string;
  /** Management subnet of the test bed (a /24 inside 10.0.0.0/8 nobody else uses). */
  subnet: string;
  /** Namespace of the Manager, Hosts, StorageDomain and VMs. */
  namespace: string;
  /** Test hosts (default 2). */
  hosts?: number;
  /** Manager spec (merged over `{ mode: Standalone }`). */
  managerSpec?: Record<string, unknown>;
  /** Extra operator flags. */
  operatorArgs?: string[];
  /** LOG_LEVEL of the operator process (default: inherited, else info). */
  operatorLogLevel?: string;
  /** The agents' `--acceleration` (default tcg: CI must not depend on KVM). */
  acceleration?: 'tcg' | 'kvm';
  /** Niceness of the test hosts' libvirtd and guests (the test bed's `daemonNice`; default 0). */
  daemonNice?: number;
}

/** A running benchmark environment. */
export interface BenchEnv {
  stateDir: string;
  namespace: string;
  manager: string;
  controlPlane: ControlPlaneState;
  testbed: Testbed;
  sharedDir: string;
  operator: { pid: number; healthPort: number; logFile: string };
  agents: DevAgent[];
  ca: ManagerCaInfo;
  /** Host object names, in test-bed order. */
  hostNames: string[];
  /** kubectl as cluster admin (no namespace added). */
  kubectl: Kubectl;
  /** Server-side applies objects (field manager `drover-bench`). */
  apply(objects: object[]): Promise<void>;
  get(kind: string, name: string): Promise<KubeJson | undefined>;
  waitFor(kind: string, name: string, predicate: (o: KubeJson) => boolean, timeoutMs?: number): Promise<KubeJson>;
  /** Everything is stopped and the state directory removed. Safe to call twice. */
  stop(): Promise<void>;
}

/** What a run records so the next one can clean up after a crash. */
interface EnvState {
  operatorPid?: number;
}

const STATE_FILE = 'bench-env.json';

/** True when `pid` is an operator process started from this checkout with a kubeconfig in `stateDir`. */
function isOurOperator(pid: number, stateDir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith(join('dist', 'cli', 'main.js'))) && argv.includes('operator') && argv.some((a) => a.startsWith(stateDir));
  } catch {
    return false;
  }
}

/** Stops what an earlier (interrupted) run left in `stateDir`, then removes it. */
export async function cleanBenchEnv(stateDir: string): Promise<void> {
  let previous: EnvState = {};
  try {
    previous = JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as EnvState;
  } catch {
    /* nothing recorded */
  }
  // Only a process that is verifiably ours: the pid could have been reused.
  if (previous.operatorPid !== undefined && isAlive(previous.operatorPid) && isOurOperator(previous.operatorPid, stateDir)) {
    await stopProcess(previous.operatorPid);
  }
  await stopDevHosts(join(stateDir, 'testbed'));
  await stopControlPlane(stateDir);
  await rm(stateDir, { recursive: true, force: true });
}

/** Starts the environment (see the module comment); on failure everything started is stopped again. */
export async function startBenchEnv(repoRoot: string, options: BenchEnvOptions, log: (m: string) => void): Promise<BenchEnv> {
  const { stateDir, namespace } = options;
  const manager = 'bench';
  await cleanBenchEnv(stateDir);
  await mkdir(stateDir, { recursive: true });
  const sharedDir = join(stateDir, 'shared');
  let operator: BenchEnv['operator'] | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (operator) await stopProcess(operator.pid, 20_000);
    await stopDevHosts(join(stateDir, 'testbed'));
    await stopControlPlane(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  };

  try {
    log('starting etcd and kube-apiserver');
    const controlPlane = await startControlPlane(repoRoot, stateDir, log);
    const kubectl: Kubectl = (args, input) => kubectlAdmin(controlPlane, args, input);
    await installDeploy(repoRoot, controlPlane);
    const operatorSa = await operatorKubeconfig(controlPlane, join(stateDir, 'operator.kubeconfig'));

    log(`starting ${options.hosts ?? 2} test hosts (${options.namePrefix}-*, ${options.subnet})`);
    const testbed = await prepareDevHosts({
      stateDir: join(stateDir, 'testbed'),
      hosts: options.hosts ?? 2,
      sharedDir,
      subnet: options.subnet,
      namePrefix: options.namePrefix,
      ...(options.daemonNice !== undefined ? { daemonNice: options.daemonNice } : {}),
    });
    const gateway = testbed.subnet.gateway;
    const hostNames = testbed.hosts.map((_h, i) => `host-${i + 1}`);

    const logFile = join(stateDir, 'operator.log');
    // The operator inherits this process's environment: LOG_LEVEL only for it, not for the agents started later.
    const inherited = process.env['LOG_LEVEL'];
    if (options.operatorLogLevel) process.env['LOG_LEVEL'] = options.operatorLogLevel;
    let started: { pid: number; healthPort: number };
    try {
      started = await startOperatorProcess(repoRoot, operatorSa, logFile, [`--enroll-listen=${gateway}:${ENROLL_PORT}`, ...(options.operatorArgs ?? [])]);
    } finally {
      if (inherited === undefined) delete process.env['LOG_LEVEL'];
      else process.env['LOG_LEVEL'] = inherited;
    }
    operator = { ...started, logFile };
    await writeFile(join(stateDir, STATE_FILE), JSON.stringify({ operatorPid: started.pid } satisfies EnvState));
    const op = operator;
    const watched: Watched[] = [{ what: 'the operator', alive: () => isAlive(op.pid), logFile }];
    await waitFor('the operator to lead', async () => {
      if (!isAlive(op.pid)) throw new Error(`the operator exited; ${logFile}:\n${await tail(logFile)}`);
      const { stdout } = await kubectl(['get', 'lease', 'drover-operator', '-n', 'drover-system', '-o', 'jsonpath={.spec.holderIdentity}']).catch(() => ({ stdout: '' }));
      return stdout.trim() ? true : undefined;
    }, 60_000, 200);

    const apply = async (objects: object[]): Promise<void> => {
      await kubectl(['apply', '--server-side', '--field-manager=drover-bench', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    };
    await kubectl(['create', 'namespace', namespace]);
    await apply([
      { apiVersion: API, kind: 'Manager', metadata: { name: manager, namespace }, spec: { mode: 'Standalone', ...(options.managerSpec ?? {}) } },
      ...testbed.hosts.map((h, i) => ({ apiVersion: API, kind: 'Host', metadata: { name: hostNames[i], namespace }, spec: { address: h.ip } })),
    ]);
    const ca = await waitForManagerCa(kubectl, namespace, manager, 60_000, watched);

    log('enrolling agents with bootstrap tokens');
    const adminKubeconfig = controlPlane.adminKubeconfig;
    const tokens: Record<string, string> = {};
    for (const name of hostNames) tokens[name] = await createBootstrapToken(repoRoot, adminKubeconfig, { namespace, host: name, ttl: '1h' });
    const { agents } = await startEnrollAgents(repoRoot, testbed, { url: `https://${gateway}:${ENROLL_PORT}`, namespace, caCertHash: ca.caCertHash, tokens, hostNames }, { acceleration: options.acceleration ?? 'tcg' });
    for (const agent of agents) {
      await waitForEnrolledAgent(agent, ca.caCertPem);
      watched.push({ what: `the agent of ${agent.hostName}`, alive: () => isAlive(agent.pid), logFile: agent.logFile });
    }

    await apply([{ apiVersion: API, kind: 'StorageDomain', metadata: { name: 'shared', namespace }, spec: { type: 'PosixFS', role: 'Data', posix: { path: sharedDir } } }]);
    const waitForKind = (kind: string, name: string, predicate: (o: KubeJson) => boolean, timeoutMs = 120_000) =>
      waitForObject(kubectl, kind, name, namespace, predicate, timeoutMs, { watched, intervalMs: 250 });
    for (const name of hostNames) await waitForKind('host', name, (o) => o.status?.['phase'] === 'Up');
    await waitForKind('storagedomain', 'shared', (o) => o.status?.['phase'] === 'Active');
    log('hosts Up, storage domain Active');

    return {
      stateDir,
      namespace,
      manager,
      controlPlane,
      testbed,
      sharedDir,
      operator: op,
      agents,
      ca,
      hostNames,
      kubectl,
      apply,
      get: (kind, name) => getObject(kubectl, kind, name, namespace),
      waitFor: waitForKind,
      stop,
    };
  } catch (error) {
    const tails: string[] = [];
    if (operator && existsSync(operator.logFile)) tails.push(`--- operator log ---\n${await tail(operator.logFile, 30)}`);
    await stop().catch((e: unknown) => tails.push(`(cleanup also failed: ${String(e)})`));
    throw new Error(`benchmark environment failed to start: ${(error as Error).message}\n${tails.join('\n')}`, { cause: error });
  }
}
