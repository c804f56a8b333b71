/**
 * The environment of the scale benchmark (issue 8): a control plane of its
 * own (so the API server's request counters only see this run), deploy/
 * (CRDs, ServiceAccount, RBAC), one operator process (a second one on
 * demand, for leader failover) with the ServiceAccount's token, a Manager,
 * and a fleet of simulated hosts in a child process
 * (src/bench/scale-fleet-child.ts) whose server certificates are signed by
 * the Manager's CA — pre-signed, as an admin who issues host certificates
 * would, so 100 hosts need no 100 enrollments — then one Host per agent and
 * a PosixFS StorageDomain on a directory every simulated host sees.
 *
 * Everything lives under one state directory; `stop()` stops what was
 * started here (by pid) and removes it. A rerun first cleans up what an
 * interrupted run left there.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFleetPki, fleetHosts } from '../agent/simulated-fleet/index.js';
import { freePort, startControlPlane, stopControlPlane, type ControlPlaneState } from '../dev/controlplane.js';
import { waitForManagerCa, waitForObject, type KubeJson, type Kubectl } from '../dev/enroll.js';
import { OPERATOR_NODE_FLAGS, installDeploy, kubectlAdmin, operatorKubeconfig } from '../dev/environment.js';
import { isAlive, sleep, startDetached, stopProcess, waitFor } from '../dev/exec.js';
import { tail } from '../dev/testbed/index.js';
import type { FleetChildConfig, FleetChildMessage, FleetParentMessage } from './scale-fleet-child.js';

const API = 'drover.io/v1alpha1';

/** Options of {@link startScaleEnv}. */
export interface ScaleEnvOptions {
  stateDir: string;
  namespace: string;
  hosts: number;
  /** Latency scale of the simulated hosts (1: the measured libvirt figures). */
  latencyScale: number;
  /** Manager spec (merged over `{ mode: Standalone }`). */
  managerSpec?: Record<string, unknown>;
  /** Extra operator flags. */
  operatorArgs?: string[];
  /** Extra Node.js flags of the operator (e.g. `--cpu-prof`). */
  operatorNodeArgs?: string[];
  /** First loopback address of the fleet (default the fleet's, 127.0.1.1). */
  firstAddress?: string;
}

/** One operator replica. */
export interface ScaleOperator {
  identity: string;
  pid: number;
  healthPort: number;
  logFile: string;
}

/** A running scale environment. */
export interface ScaleEnv {
  stateDir: string;
  namespace: string;
  manager: string;
  controlPlane: ControlPlaneState;
  /** Replicas started so far (the first one led at start). */
  operators: ScaleOperator[];
  /** The fleet's child process. */
  fleetPid: number;
  hostNames: string[];
  kubectl: Kubectl;
  sharedDir: string;
  apply(objects: object[]): Promise<void>;
  /** Holder of the operator Lease ('' when none). */
  leaseHolder(): Promise<string>;
  /** Starts another replica (it stands by while the first leads). */
  startOperator(): Promise<ScaleOperator>;
  /** Kills a host: its simulated hypervisor powers off and its agent stops answering. Resolves with the time it happened. */
  powerOff(host: string): Promise<number>;
  stop(): Promise<void>;
}

interface EnvState {
  operatorPids: number[];
  fleetPid?: number;
}

const STATE_FILE = 'scale-env.json';
const LEASE_NAMESPACE = 'drover-system';

/** True when `pid` is a process started from this checkout whose argv names `stateDir` (pids get reused). */
function isOurs(pid: number, stateDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.startsWith(stateDir));
  } catch {
    return false;
  }
}

/** Stops what an interrupted run left in `stateDir` (only processes verifiably its own), then removes it. */
export async function cleanScaleEnv(stateDir: string): Promise<void> {
  let previous: EnvState = { operatorPids: [] };
  try {
    previous = JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as EnvState;
  } catch {
    /* nothing recorded */
  }
  for (const pid of [...previous.operatorPids, ...(previous.fleetPid ? [previous.fleetPid] : [])]) {
    if (isAlive(pid) && isOurs(pid, stateDir)) await stopProcess(pid);
  }
  await stopControlPlane(stateDir);
  await rm(stateDir, { recursive: true, force: true });
}

/** Starts the environment (see the module comment); on failure everything started is stopped again. */
export async function startScaleEnv(repoRoot: string, options: ScaleEnvOptions, log: (m: string) => void): Promise<ScaleEnv> {
  const { stateDir, namespace } = options;
  const manager = 'scale';
  await cleanScaleEnv(stateDir);
  await mkdir(stateDir, { recursive: true });
  const sharedDir = join(stateDir, 'shared');
  await mkdir(sharedDir, { recursive: true });
  const state: EnvState = { operatorPids: [] };
  const saveState = () => writeFile(join(stateDir, STATE_FILE), JSON.stringify(state));
  const operators: ScaleOperator[] = [];
  let fleet: ChildProcess | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const o of operators) await stopProcess(o.pid, 20_000);
    if (fleet?.pid !== undefined && isAlive(fleet.pid)) {
      const exited = new Promise<void>((r) => fleet!.once('exit', () => r()));
      fleet.send({ type: 'close' } satisfies FleetParentMessage);
      await Promise.race([exited, sleep(10_000)]);
      await stopProcess(fleet.pid);
    }
    await stopControlPlane(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  };

  try {
    log('starting etcd and kube-apiserver');
    const controlPlane = await startControlPlane(repoRoot, stateDir, log);
    const kubectl: Kubectl = (args, input) => kubectlAdmin(controlPlane, args, input);
    await installDeploy(repoRoot, controlPlane);
    const operatorSa = await operatorKubeconfig(controlPlane, join(stateDir, 'operator.kubeconfig'));

    const startOperator = async (): Promise<ScaleOperator> => {
      const identity = `scale-operator-${operators.length + 1}`;
      const healthPort = await freePort();
      const logFile = join(stateDir, `${identity}.log`);
      const pid = startDetached(
        process.execPath,
        [
          ...OPERATOR_NODE_FLAGS,
          ...(options.operatorNodeArgs ?? []),
          join(repoRoot, 'dist', 'cli', 'main.js'),
          'operator',
          '--kubeconfig', operatorSa,
          '--lease-namespace', LEASE_NAMESPACE,
          '--identity', identity,
          '--health-addr', `127.0.0.1:${healthPort}`,
          // Port 0: every replica serves enrollment, and 9443 may be taken by other work on this machine.
          '--enroll-listen', '127.0.0.1:0',
          ...(options.operatorArgs ?? []),
        ],
        logFile,
        process.env,
        stateDir,
      );
      const op = { identity, pid, healthPort, logFile };
      operators.push(op);
      state.operatorPids.push(pid);
      await saveState();
      // Informers synced (/readyz): a standby is warm before anything is asked of it.
      await waitFor(`${identity} to be ready`, async () => {
        if (!isAlive(pid)) throw new Error(`${identity} exited; ${logFile}:\n${await tail(logFile)}`);
        try {
          return (await fetch(`http://127.0.0.1:${healthPort}/readyz`, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined;
        } catch {
          return undefined;
        }
      }, 120_000, 200);
      return op;
    };
    const leaseHolder = async (): Promise<string> => {
      const { stdout } = await kubectl(['get', 'lease', 'drover-operator', '-n', LEASE_NAMESPACE, '-o', 'jsonpath={.spec.holderIdentity}']).catch(() => ({ stdout: '' }));
      return stdout.trim();
    };

    const first = await startOperator();
    await waitFor('the operator to lead', async () => ((await leaseHolder()) === first.identity ? true : undefined), 60_000, 200);

    const apply = async (objects: object[]): Promise<void> => {
      // Chunks: one kubectl apply of thousands of objects is one huge request body.
      for (let i = 0; i < objects.length; i += 200) {
        await kubectl(['apply', '--server-side', '--field-manager=drover-bench', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects.slice(i, i + 200) }));
      }
    };
    await kubectl(['create', 'namespace', namespace]);
    await apply([{ apiVersion: API, kind: 'Manager', metadata: { name: manager, namespace }, spec: { mode: 'Standalone', ...(options.managerSpec ?? {}) } }]);
    const watched = [{ what: 'the operator', alive: () => isAlive(first.pid), logFile: first.logFile }];
    const ca = await waitForManagerCa(kubectl, namespace, manager, 60_000, watched);

    // The CA's key, to sign the fleet's server certificates (the bench runs as cluster admin).
    const pkiDir = join(stateDir, 'pki');
    await mkdir(pkiDir, { recursive: true });
    const { stdout: keyB64 } = await kubectl(['get', 'secret', ca.caSecretName, '-n', namespace, '-o', 'jsonpath={.data.tls\\.key}']);
    const caFiles = { cert: join(pkiDir, 'manager-ca.crt'), key: join(pkiDir, 'manager-ca.key') };
    await writeFile(caFiles.cert, ca.caCertPem);
    await writeFile(caFiles.key, Buffer.from(keyB64.trim(), 'base64'), { mode: 0o600 });
    const hosts = fleetHosts(options.hosts, options.firstAddress ? { firstAddress: options.firstAddress } : {});
    log(`issuing ${hosts.length} agent certificates from the Manager's CA`);
    const pki = await createFleetPki(pkiDir, hosts, caFiles);

    log(`starting ${hosts.length} simulated agents (latency scale ${options.latencyScale})`);
    const config: FleetChildConfig = {
      count: hosts.length,
      ...(options.firstAddress ? { firstAddress: options.firstAddress } : {}),
      stateDir: join(stateDir, 'agents'),
      latencyScale: options.latencyScale,
      caPem: ca.caCertPem,
      servers: Object.fromEntries([...pki.servers].map(([name, p]) => [name, { cert: p.cert, key: p.key }])),
    };
    const configFile = join(stateDir, 'fleet.json');
    await writeFile(configFile, JSON.stringify(config), { mode: 0o600 });
    const fleetLog = join(stateDir, 'fleet.log');
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(fleetLog, 'a');
    fleet = fork(join(import.meta.dirname, 'scale-fleet-child.js'), [configFile], { stdio: ['ignore', fd, fd, 'ipc'], execArgv: ['--max-semi-space-size=16'] });
    closeSync(fd);
    state.fleetPid = fleet.pid;
    await saveState();
    const child = fleet;
    const powerOffWaiters = new Map<string, (at: number) => void>();
    const ready = await new Promise<{ name: string; address: string; port: number }[]>((resolve, reject) => {
      child.on('message', (m: FleetChildMessage) => {
        if (m.type === 'ready') resolve(m.agents);
        else if (m.type === 'poweredOff') powerOffWaiters.get(m.host)?.(m.at);
        else if (m.type === 'error') reject(new Error(`simulated fleet: ${m.message}`));
      });
      child.once('exit', (code) => reject(new Error(`the simulated fleet exited (${code}); ${fleetLog}`)));
    });

    await apply(ready.map((a) => ({ apiVersion: API, kind: 'Host', metadata: { name: a.name, namespace }, spec: { address: a.address, port: a.port } })));
    await apply([{ apiVersion: API, kind: 'StorageDomain', metadata: { name: 'shared', namespace }, spec: { type: 'PosixFS', role: 'Data', posix: { path: sharedDir } } }]);
    log(`waiting for ${ready.length} Hosts Up and the StorageDomain Active`);
    await waitFor('every Host Up', async () => {
      if (!isAlive(first.pid)) throw new Error(`the operator exited; ${first.logFile}:\n${await tail(first.logFile)}`);
      const { stdout } = await kubectl(['get', 'hosts', '-n', namespace, '-o', 'jsonpath={.items[*].status.phase}']);
      return stdout.split(/\s+/).filter((p) => p === 'Up').length === ready.length ? true : undefined;
    }, 300_000, 500);
    await waitForObject(kubectl, 'storagedomain', 'shared', namespace, (o: KubeJson) => o.status?.['phase'] === 'Active', 120_000, { watched, intervalMs: 250 });
    log('hosts Up, storage domain Active');

    return {
      stateDir,
      namespace,
      manager,
      controlPlane,
      operators,
      fleetPid: child.pid!,
      hostNames: ready.map((a) => a.name),
      kubectl,
      sharedDir,
      apply,
      leaseHolder,
      startOperator,
      powerOff: (host) =>
        new Promise<number>((resolve) => {
          powerOffWaiters.set(host, resolve);
          child.send({ type: 'powerOff', host } satisfies FleetParentMessage);
        }),
      stop,
    };
  } catch (error) {
    const tails: string[] = [];
    for (const o of operators) if (existsSync(o.logFile)) tails.push(`--- ${o.identity} log ---\n${await tail(o.logFile, 30)}`);
    await stop().catch((e: unknown) => tails.push(`(cleanup also failed: ${String(e)})`));
    throw new Error(`scale environment failed to start: ${(error as Error).message}\n${tails.join('\n')}`, { cause: error });
  }
}
