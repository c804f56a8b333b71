/**
 * End-to-end environments for integration tests: the same flow as
 * `drover dev up` (src/dev/environment.ts), each with its own namespace, name
 * prefix and subnet so test files never share hosts.
 *
 *   test bed (network + libvirt, no agents) → operator process with
 *   `--enroll-listen=<gateway>:9443` (own Lease, watching only this
 *   namespace) → namespace, Manager (short availability timings), one Host
 *   per test-bed host → the Manager's CA (status.pki.caCertHash) → a
 *   bootstrap token per Host (`drover token create`) → agents in enrollment
 *   mode → each agent serving a certificate from the Manager's CA.
 *
 * ```ts
 * const e2e = await startE2E({ name: 'e2eha', subnet: '10.247.87.0/24' });
 * await e2e.apply([e2e.storageDomain('shared'), e2e.guestVm('web', 1)]);
 * await e2e.waitFor('virtualmachine', 'web', (vm) => vm.status?.phase === 'Running', 300_000);
 * expect(await e2e.guestHttp(e2e.guestIp(1))).toBe('ok');
 * await e2e.stop();
 * ```
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type ExecResult } from '../../src/dev/exec.js';
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
} from '../../src/dev/enroll.js';
import {
  GUEST_INITRD_PATH,
  GUEST_KERNEL_PATH,
  prepareDevHosts,
  startEnrollAgents,
  stopDevHosts,
  waitForEnrolledAgent,
  type DevAgent,
} from '../../src/dev/hosts.js';
import { guestVmManifest } from '../../src/dev/guest-vm.js';
import { guestAddress, hostExec, isAlive, tail, type ExecResult as HostExecResult, type Testbed, type TestbedHost } from '../../src/dev/testbed/index.js';
import { freshNamespace, kubectl as adminKubectl, adminKubeconfig, repoRoot, stateDir } from './env.js';
import { killOperator, startOperator, type OperatorProcess } from './operator.js';

/** Options of {@link startE2E}. */
export interface E2EOptions {
  /**
   * Short name, `[a-z][a-z0-9]{0,7}`: the test bed's name prefix (netns
   * `<name>-1`...), the namespace prefix, the Manager's name, and the state
   * directory `<test state>/<name>`.
   */
  name: string;
  /** Management subnet of this environment's test bed (a /24 inside 10.0.0.0/8 no other test uses). */
  subnet: string;
  /** Test hosts (default 2). */
  hosts?: number;
  /** Extra operator flags. */
  operatorArgs?: string[];
  /** Extra agent flags. */
  agentArgs?: string[];
  /** Manager spec fields, merged over the defaults here (`availability` is merged field by field). */
  managerSpec?: Record<string, any>;
  /** Extra Host spec fields for test-bed host `index` (0-based). */
  hostSpec?: (index: number) => Record<string, unknown>;
  /** Start enrolled agents (default true). false stops after tokens: the Hosts stay Installing. */
  agents?: boolean;
  /** Directories to create below the shared directory before the agents start (e.g. a hosted-engine storage domain). */
  sharedSubdirs?: string[];
  /** Also wait for every Host to be Up (default false: only for the agents to have enrolled). */
  waitHostsUp?: boolean;
}

/** One Host of the environment. */
export interface E2EHost {
  /** Host object name (`host-1`...). */
  name: string;
  /** 0-based, as in `virsh(index, ...)`. */
  index: number;
  ip: string;
  /** libvirt URI reaching this host's libvirtd from the root namespace (for virsh). */
  libvirtUri: string;
  testbedHost: TestbedHost;
  /** The agent, when started. */
  agent?: DevAgent;
}

/** A running end-to-end environment. */
export interface E2E {
  name: string;
  namespace: string;
  /** Manager object name. */
  manager: string;
  stateDir: string;
  /** Shared storage (same path on every host): `images/guest/{vmlinuz,initrd.img}`, `data/`, ... */
  sharedDir: string;
  testbed: Testbed;
  /** The root namespace's address on the management bridge (where the operator listens for enrollment). */
  gateway: string;
  enrollUrl: string;
  operator: OperatorProcess;
  ca: ManagerCaInfo;
  hosts: E2EHost[];
  /** kubectl as cluster admin, with `-n <namespace>` appended. */
  kubectl(args: string[], input?: string): Promise<ExecResult>;
  /** Server-side applies objects (namespace defaulted to this one). */
  apply(objects: object | object[]): Promise<void>;
  /** One object in this namespace as JSON, or undefined. */
  get(kind: string, name: string): Promise<KubeJson | undefined>;
  /** Polls one object in this namespace until `predicate` holds; fails at once if the operator exits. */
  waitFor(kind: string, name: string, predicate: (obj: KubeJson) => boolean, timeoutMs?: number): Promise<KubeJson>;
  /** Waits until every Host is Up. */
  waitHostsUp(timeoutMs?: number): Promise<void>;
  /** virsh against test host `index`'s libvirtd (not through the agent). */
  virsh(index: number, args: string[]): Promise<string>;
  /** Names of every domain (any state) on test host `index`. */
  domains(index: number): Promise<string[]>;
  /** Runs a command inside test host `index` (its netns and mount namespace). */
  hostExec(index: number, argv: string[]): Promise<HostExecResult>;
  /** The guest's HTTP answer at `path` (default /healthz), fetched from inside test host `fromHost`; undefined when it does not answer. */
  guestHttp(ip: string, path?: string, fromHost?: number): Promise<string | undefined>;
  /** Address for guest `n` (1-based) on this subnet: `.101`, `.102`... */
  guestIp(n: number): string;
  /** A PosixFS Data StorageDomain on the shared directory (`path` relative to it; default the whole directory). */
  storageDomain(name: string, path?: string): object;
  /** A VM booting the tiny guest from shared storage with guest address `n`, a small disk, on `br0`. */
  guestVm(name: string, n: number, spec?: Record<string, unknown>): object;
  /** A new bootstrap token bound to `host` (`drover token create`). */
  createToken(host: string, ttl?: string): Promise<string>;
  /** Starts (or restarts) the agent of test host `index` in enrollment mode with a fresh token and waits for it to enroll. */
  startAgent(index: number): Promise<DevAgent>;
  /** Last lines of the operator's log. */
  operatorLogTail(lines?: number): Promise<string>;
  /** Kills the operator with `signal` and starts a new one (same flags); waits then watch the new one. */
  restartOperator(signal: NodeJS.Signals): Promise<OperatorProcess>;
  /** Deletes this namespace's Drover objects, stops the operator, the agents and the test bed. */
  stop(): Promise<void>;
}

/** Heartbeat 1 s, NonResponsive after 5 s: failures show up within seconds. */
export const E2E_AVAILABILITY = { heartbeatIntervalSeconds: 1, nonResponsiveAfterSeconds: 5 };

const API = 'drover.io/v1alpha1';

/** Records what a previous run left (the operator pid), so a rerun can clean it up. */
interface E2EState {
  operatorPid?: number;
}

async function readE2EState(dir: string): Promise<E2EState> {
  try {
    return JSON.parse(await readFile(join(dir, 'e2e.json'), 'utf8')) as E2EState;
  } catch {
    return {};
  }
}

/** Starts an end-to-end environment (see the module comment). On failure, everything started is stopped again. */
export async function startE2E(options: E2EOptions): Promise<E2E> {
  const { name, subnet } = options;
  const count = options.hosts ?? 2;
  const dir = join(stateDir(), name);
  const sharedDir = join(dir, 'shared');
  await mkdir(dir, { recursive: true });

  // Leftovers of an interrupted earlier run with this name.
  const previous = await readE2EState(dir);
  if (previous.operatorPid !== undefined && (await isAlive(previous.operatorPid))) {
    await killOperator({ identity: `e2e-${name}`, pid: previous.operatorPid, healthPort: 0, logFile: '' }, 'SIGKILL');
  }
  await stopDevHosts(dir);
  // Storage formatted by an earlier run belongs to StorageDomains that no longer exist.
  await rm(sharedDir, { recursive: true, force: true });

  const testbed = await prepareDevHosts({ stateDir: dir, hosts: count, sharedDir, subnet, namePrefix: name });
  for (const sub of options.sharedSubdirs ?? []) await mkdir(join(sharedDir, sub), { recursive: true, mode: 0o755 });
  const gateway = testbed.subnet.gateway;
  const enrollUrl = `https://${gateway}:${ENROLL_PORT}`;
  let operator: OperatorProcess | undefined;
  let namespace: string | undefined;
  const hosts: E2EHost[] = testbed.hosts.map((h, index) => ({ name: `host-${index + 1}`, index, ip: h.ip, libvirtUri: h.libvirtUri, testbedHost: h }));

  const cleanup = async (): Promise<void> => {
    // With the operator gone (a test may kill it), nobody removes finalizers: don't wait for it.
    const operatorAlive = operator !== undefined && (await isAlive(operator.pid));
    if (namespace && operator) await deleteDroverObjects(namespace, operatorAlive ? 60_000 : 0);
    if (operator) await killOperator(operator, 'SIGTERM').catch(() => killOperator(operator!, 'SIGKILL'));
    await stopDevHosts(dir);
    await rm(sharedDir, { recursive: true, force: true });
  };

  try {
    namespace = await freshNamespace(name);
    const ns = namespace;
    // Only this namespace: other tests' objects are not its business. The Lease is the deploy/ one (RBAC allows no other name).
    // Default Lease timings, not the fast ones of the failover tests: a busy 2-core
    // machine (TCG guests) must not make the operator lose its Lease mid-test.
    const operatorArgs = [
      `--enroll-listen=${gateway}:${ENROLL_PORT}`,
      `--watch-namespace=${ns}`,
      '--lease-duration=15s',
      '--renew-deadline=10s',
      '--retry-period=2s',
      ...(options.operatorArgs ?? []),
    ];
    operator = await startOperator(`e2e-${name}`, operatorArgs);
    await writeFile(join(dir, 'e2e.json'), JSON.stringify({ operatorPid: operator.pid } satisfies E2EState));
    // `op` follows restarts (restartOperator), so waits watch whichever operator runs now.
    let op = operator;
    const watched: Watched[] = [{ what: `operator e2e-${name}`, alive: () => isAlive(op.pid), logFile: op.logFile }];
    let restarts = 0;

    const kubectlNs: Kubectl = (args, input) => adminKubectl([...args, '-n', ns], input);
    const kubectlAll: Kubectl = (args, input) => adminKubectl(args, input);
    const apply = async (objects: object | object[]): Promise<void> => {
      const list = Array.isArray(objects) ? objects : [objects];
      await kubectlNs(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: list }));
    };

    const { availability, ...restSpec } = options.managerSpec ?? {};
    await apply([
      {
        apiVersion: API,
        kind: 'Manager',
        metadata: { name, namespace: ns },
        spec: { mode: 'Standalone', ...restSpec, availability: { ...E2E_AVAILABILITY, ...(availability ?? {}) } },
      },
      ...hosts.map((h) => ({
        apiVersion: API,
        kind: 'Host',
        metadata: { name: h.name, namespace: ns },
        spec: { address: h.ip, ...(options.hostSpec?.(h.index) ?? {}) },
      })),
    ]);
    const ca = await waitForManagerCa(kubectlAll, ns, name, 60_000, watched);

    const createToken = (host: string, ttl = '1h') => createBootstrapToken(repoRoot(), adminKubeconfig(), { namespace: ns, host, ttl });
    const startAgent = async (index: number): Promise<DevAgent> => {
      const host = hosts[index];
      if (!host) throw new Error(`no test host ${index}`);
      if (host.agent && (await isAlive(host.agent.pid, host.agent.startTime))) {
        process.kill(host.agent.pid, 'SIGTERM');
        const deadline = Date.now() + 15_000;
        while ((await isAlive(host.agent.pid, host.agent.startTime)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      }
      const token = await createToken(host.name);
      const { agents } = await startEnrollAgents(
        repoRoot(),
        { ...testbed, hosts: [testbed.hosts[index]!] },
        { url: enrollUrl, namespace: ns, caCertHash: ca.caCertHash, tokens: { [host.name]: token }, hostNames: [host.name] },
        { agentArgs: options.agentArgs ?? [] },
      );
      const agent = agents[0]!;
      await waitForEnrolledAgent(agent, ca.caCertPem);
      host.agent = agent;
      return agent;
    };
    if (options.agents ?? true) {
      for (const h of hosts) await startAgent(h.index);
    }

    const waitFor = (kind: string, objName: string, predicate: (obj: KubeJson) => boolean, timeoutMs = 120_000) =>
      waitForObject(kubectlAll, kind, objName, ns, predicate, timeoutMs, { watched });
    const waitHostsUp = async (timeoutMs = 120_000): Promise<void> => {
      for (const h of hosts) await waitFor('host', h.name, (o) => o.status?.['phase'] === 'Up', timeoutMs);
    };
    if (options.waitHostsUp) await waitHostsUp();

    const virsh = async (index: number, args: string[]): Promise<string> => {
      const host = hosts[index];
      if (!host) throw new Error(`no test host ${index}`);
      return (await run('virsh', ['-c', host.libvirtUri, ...args])).stdout;
    };

    const e2e: E2E = {
      name,
      namespace: ns,
      manager: name,
      stateDir: dir,
      sharedDir,
      testbed,
      gateway,
      enrollUrl,
      operator: op,
      ca,
      hosts,
      kubectl: kubectlNs,
      apply,
      get: (kind, objName) => getObject(kubectlAll, kind, objName, ns),
      waitFor,
      waitHostsUp,
      virsh,
      domains: async (index) => (await virsh(index, ['list', '--all', '--name'])).split('\n').map((s) => s.trim()).filter(Boolean).sort(),
      hostExec: (index, argv) => hostExec(hosts[index]!.testbedHost, argv, { check: false }),
      guestHttp: (ip, path = '/healthz', fromHost = 0) => guestHttp(hosts[fromHost]!.testbedHost, ip, path),
      guestIp: (n) => guestAddress(testbed.subnet, n),
      storageDomain: (sdName, path = '') => ({
        apiVersion: API,
        kind: 'StorageDomain',
        metadata: { name: sdName, namespace: ns },
        spec: { type: 'PosixFS', role: 'Data', posix: { path: path ? join(sharedDir, path) : sharedDir } },
      }),
      guestVm: (vmName, n, spec = {}) => guestVmManifest(ns, vmName, guestAddress(testbed.subnet, n), testbed.subnet.prefixLength, gateway, spec),
      createToken,
      startAgent,
      operatorLogTail: (lines = 40) => tail(op.logFile, lines),
      restartOperator: async (signal) => {
        await killOperator(op, signal);
        restarts += 1;
        op = await startOperator(`e2e-${name}-r${restarts}`, operatorArgs);
        operator = op;
        e2e.operator = op;
        watched[0] = { what: `operator e2e-${name}-r${restarts}`, alive: () => isAlive(op.pid), logFile: op.logFile };
        await writeFile(join(dir, 'e2e.json'), JSON.stringify({ operatorPid: op.pid } satisfies E2EState));
        return op;
      },
      stop: async () => {
        if (process.env['DROVER_TEST_KEEP'] === '1') {
          console.log(`DROVER_TEST_KEEP=1: leaving e2e ${name} up (namespace ${ns}, state ${dir}, operator pid ${op.pid})`);
          return;
        }
        await cleanup();
      },
    };
    return e2e;
  } catch (error) {
    const logs = [operator ? `--- operator log (${operator.logFile}) ---\n${await tail(operator.logFile, 30)}` : ''];
    for (const h of hosts) {
      const log = join(h.testbedHost.logDir, 'agent.log');
      if (existsSync(log)) logs.push(`--- ${h.name} agent log ---\n${await tail(log, 15)}`);
    }
    await cleanup().catch((e: unknown) => logs.push(`(cleanup also failed: ${String(e)})`));
    throw new Error(`startE2E(${name}) failed: ${(error as Error).message}\n${logs.filter(Boolean).join('\n')}`, { cause: error });
  }
}

/**
 * The guest's HTTP answer (trimmed body), fetched with wget from inside a test
 * host's network namespace (the guest sits on that host's `br0` segment,
 * which every host shares); undefined when it does not answer within 2 s.
 */
export async function guestHttp(from: TestbedHost, ip: string, path = '/healthz'): Promise<string | undefined> {
  const r = await hostExec(from, ['wget', '-qO-', '-T', '2', '-t', '1', `http://${ip}${path}`], { check: false, timeoutMs: 10_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export { guestVmManifest } from '../../src/dev/guest-vm.js';

/**
 * Polls `kubectl get <kind> <name> -n <ns> -o json` (as admin) until
 * `predicate` holds and returns the object; the timeout error shows its last status.
 */
export function waitForJsonPath(kind: string, name: string, ns: string, predicate: (obj: KubeJson) => boolean, timeoutMs = 120_000): Promise<KubeJson> {
  return waitForObject((args, input) => adminKubectl(args, input), kind, name, ns, predicate, timeoutMs);
}

const DROVER_KINDS = ['virtualmachinemigrations', 'virtualmachines', 'storagedomains', 'hosts', 'managers'];

/**
 * Deletes the namespace's Drover objects (VMs first, while their hosts still
 * run, so the operator can undefine them), waiting up to `timeoutMs` per step
 * (0: not at all, when no operator runs); whatever is still held by a
 * finalizer after that has it removed, so later tests see a clean API server.
 * (Namespaces themselves never finish deleting here: the test control plane
 * runs no namespace controller.)
 */
export async function deleteDroverObjects(namespace: string, timeoutMs: number): Promise<void> {
  const wait = timeoutMs > 0 ? [`--timeout=${Math.max(1, Math.round(timeoutMs / 1000))}s`] : ['--wait=false'];
  for (const kinds of [['virtualmachinemigrations', 'virtualmachines'], ['storagedomains', 'hosts', 'managers']]) {
    await adminKubectl(['delete', kinds.join(','), '--all', '-n', namespace, '--ignore-not-found', ...wait]).catch(() => undefined);
  }
  const left = await adminKubectl(['get', DROVER_KINDS.join(','), '-n', namespace, '-o', 'name']).catch(() => ({ stdout: '' }));
  for (const ref of left.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) {
    await adminKubectl(['patch', ref, '-n', namespace, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']).catch(() => undefined);
  }
}

/** A Kubernetes object read loosely (tests look at arbitrary status fields). */
export type LooseObject = Record<string, any>;

/** `status.phase` of an object. */
export const phaseOf = (o: LooseObject | undefined): string | undefined => o?.status?.phase as string | undefined;

/** The condition of `type` in an object's status. */
export const conditionOf = (o: LooseObject | undefined, type: string): LooseObject | undefined =>
  (o?.status?.conditions ?? []).find((c: LooseObject) => c.type === type) as LooseObject | undefined;

/** `virsh domstate` of `domain` on test host `index`, or 'absent'. */
export async function domstate(env: E2E, index: number, domain: string): Promise<string> {
  const names = await env.domains(index);
  if (!names.includes(domain)) return 'absent';
  return (await env.virsh(index, ['domstate', domain])).trim();
}

/** Waits until VirtualMachine `name` is Running on a host, and returns it. */
export function waitRunning(env: E2E, name: string, timeoutMs = 180_000): Promise<LooseObject> {
  return env.waitFor('virtualmachine', name, (o) => phaseOf(o as LooseObject) === 'Running' && Boolean((o as LooseObject).status?.host), timeoutMs) as Promise<LooseObject>;
}
