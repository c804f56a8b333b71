/**
 * `drover dev up` / `drover dev down` (and `npm run demo`): a local Drover
 * environment built from this checkout, brought up the way a user would —
 * the real control plane, Drover's CRDs and RBAC from deploy/, the operator
 * running as a local process with the deploy/ ServiceAccount's token (so local
 * runs exercise the same RBAC as a cluster), test hosts whose agents enroll
 * with bootstrap tokens, and examples/quickstart applied until its VM runs.
 */
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { readControlPlaneState, startControlPlane, stopControlPlane, freePort, writeKubeconfig, type ControlPlaneState } from './controlplane.js';
import { isAlive, run, startDetached, stopProcess, waitFor } from './exec.js';
import { connect } from 'node:tls';
import { existsSync, readFileSync } from 'node:fs';
import { createSelfSignedServerCert } from '../pki/openssl.js';
import { CONSOLE_PORT } from '../operator/console-wiring.js';
import { DEV_SHARED_DIR, prepareDevHosts, startEnrollAgents, stopDevHosts, waitForEnrolledAgent, type DevHosts } from './hosts.js';
import {
  ENROLL_PORT,
  createBootstrapToken,
  phaseOf,
  redactToken,
  waitForManagerCa,
  type KubeJson,
  type Kubectl,
  type Watched,
} from './enroll.js';
import { tail, type Testbed } from './testbed/index.js';

/** Where `dev up` keeps its state, relative to the repository root. */
export const DEV_STATE_DIR = join('.drover', 'dev');

/** The manifests `dev up` applies, relative to the repository root. */
export const QUICKSTART_DIR = join('examples', 'quickstart');

interface DevState {
  operatorPids: number[];
  healthPorts: number[];
  /** Where the operator's enrollment endpoint listens. */
  enrollListen?: string;
  /** The quickstart's namespace. */
  namespace?: string;
}

async function readDevState(stateDir: string): Promise<DevState> {
  try {
    return JSON.parse(await readFile(join(stateDir, 'dev.json'), 'utf8')) as DevState;
  } catch {
    return { operatorPids: [], healthPorts: [] };
  }
}

/** kubectl as admin of the dev control plane. */
export function kubectlAdmin(state: ControlPlaneState, args: string[], input?: string) {
  return run('kubectl', ['--kubeconfig', state.adminKubeconfig, ...args], input === undefined ? {} : { input });
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
 * (see docs/benchmarks.md) at a small CPU cost; a 256 MiB old generation
 * makes V8 collect instead of growing (160 MiB was too close to the live
 * heap: GC near the limit stalled the process until a Lease renewal missed
 * its deadline). Uncapped on this 24 GiB machine, the
 * heap of a 2,000-VM cold start swung between 80 and 360 MiB used (live:
 * ~80–115 MiB) and the RSS reached 573 MiB, over the deployment's 256Mi
 * limit; capped, the same cold start was faster (less memory to walk).
 * Raise it with the fleet (and the pod's memory limit): the live heap was
 * ~80–115 MiB at 2,000 VMs, ~45 MiB of it client-node's modules at any size.
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=256'];

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

/** Resolves once an mTLS handshake with the agent at ip:port succeeds (certificate mode: the development Manager CA). */
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

// ---------------------------------------------------------------------------
// The quickstart manifests

/** What `dev up` needs to know about examples/quickstart, read from the manifests themselves. */
export interface Quickstart {
  namespace: string;
  manager: string;
  hosts: { name: string; address: string }[];
  storageDomains: string[];
  /** VMs and whether they should end up Running (runStrategy other than Halted/Manual). */
  vms: { name: string; running: boolean; guestIp?: string }[];
}

/** Reads the Manager, Hosts, StorageDomains and VirtualMachines of a manifest directory. */
export async function readQuickstart(dir: string): Promise<Quickstart> {
  const docs: KubeJson[] = [];
  for (const file of (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as KubeJson | null;
      if (obj?.kind) docs.push(obj);
    }
  }
  const of = (kind: string) => docs.filter((d) => d.kind === kind && d.apiVersion?.startsWith('drover.io/'));
  const manager = of('Manager')[0];
  if (!manager?.metadata.namespace) throw new Error(`${dir} has no namespaced Manager`);
  const namespace = manager.metadata.namespace;
  return {
    namespace,
    manager: manager.metadata.name,
    hosts: of('Host').map((h) => ({ name: h.metadata.name, address: String(h.spec?.['address']) })),
    storageDomains: of('StorageDomain').map((d) => d.metadata.name),
    vms: of('VirtualMachine').map((v) => {
      const strategy = (v.spec?.['runStrategy'] as string | undefined) ?? 'Always';
      const ip = /(?:^|\s)drover\.ip=([0-9.]+)\//.exec(String(v.spec?.['boot']?.cmdline ?? ''))?.[1];
      return { name: v.metadata.name, running: strategy === 'Always' || strategy === 'RerunOnFailure', ...(ip ? { guestIp: ip } : {}) };
    }),
  };
}

/**
 * Which Host object each test-bed host is: the quickstart Host with its
 * address, else a `host-<n>` created here (with `--hosts 3`, the third).
 */
function hostNamesFor(testbed: Testbed, quickstart: Quickstart): { names: string[]; extra: { name: string; address: string }[] } {
  const names: string[] = [];
  const extra: { name: string; address: string }[] = [];
  for (const h of testbed.hosts) {
    const declared = quickstart.hosts.find((q) => q.address === h.ip);
    if (declared) {
      names.push(declared.name);
    } else {
      const name = `host-${h.index}`;
      if (quickstart.hosts.some((q) => q.name === name)) throw new Error(`Host ${name} in the quickstart does not have the test bed's address ${h.ip}`);
      names.push(name);
      extra.push({ name, address: h.ip });
    }
  }
  return { names, extra };
}

// ---------------------------------------------------------------------------
// dev up

/** Options of `drover dev up`. */
export interface DevUpOptions {
  /** Test hosts to create (each with libvirt and an agent); 0 for none. */
  hosts: number;
  /** How long to wait for the quickstart's VMs to run (default 5 minutes). */
  timeoutMs?: number;
}

const seconds = (t0: number) => `${Math.round((Date.now() - t0) / 1000)}s`.padStart(4);

/**
 * Brings the dev environment up, printing progress: control plane, deploy/,
 * test bed, operator (with its enrollment endpoint on the test bed's
 * gateway), examples/quickstart, bootstrap tokens, enrolling agents, and
 * waits until the quickstart's VMs run and answer. Everything stays up until
 * {@link devDown}, also when a step fails (to look at it).
 */
export async function devUp(repoRoot: string, log: (line: string) => void, options: DevUpOptions = { hosts: 2 }): Promise<void> {
  const t0 = Date.now();
  const stateDir = join(repoRoot, DEV_STATE_DIR);
  const testbedDir = join(stateDir, 'testbed');
  await mkdir(stateDir, { recursive: true });
  const quickstart = await readQuickstart(join(repoRoot, QUICKSTART_DIR));
  const ns = quickstart.namespace;

  log('starting etcd and kube-apiserver');
  const previous = await readControlPlaneState(stateDir);
  const fresh = !(previous && isAlive(previous.apiserverPid) && isAlive(previous.etcdPid));
  const state = await startControlPlane(repoRoot, stateDir, log);
  const kubeconfig = join(stateDir, 'kubeconfig');
  await copyFile(state.adminKubeconfig, kubeconfig);
  const kubectl: Kubectl = (args, input) => kubectlAdmin(state, args, input);
  log('installing CRDs and deploy/ (namespace, ServiceAccount, RBAC)');
  await installDeploy(repoRoot, state);

  // A fresh operator every time: `dev up` runs this checkout's dist/.
  const dev = await readDevState(stateDir);
  for (const pid of dev.operatorPids) await stopProcess(pid);

  if (fresh) {
    // A new etcd knows no StorageDomains: storage formatted by an earlier run
    // (left behind by a crash, or a machine reboot) would belong to "another
    // domain" and refuse to attach. Stop whatever still uses it, then clear it.
    await stopDevHosts(testbedDir);
    await rm(DEV_SHARED_DIR, { recursive: true, force: true });
  }

  let testbed: Testbed | undefined;
  if (options.hosts > 0) {
    log(`starting ${options.hosts} test hosts (network + mount namespaces, libvirtd; agents start once they have tokens)`);
    testbed = await prepareDevHosts({ stateDir: testbedDir, hosts: options.hosts });
    for (const h of testbed.hosts) log(`  ${h.name}: ${h.ip} (libvirt ${h.libvirtUri}, VM bridge ${h.vmBridge})`);
  } else {
    await stopDevHosts(testbedDir);
  }

  // Agents reach the operator on the test bed's gateway (the root namespace's
  // address on the management bridge); nothing else needs to.
  const enrollListen = `${testbed?.subnet.gateway ?? '127.0.0.1'}:${ENROLL_PORT}`;
  const operatorLog = join(stateDir, 'operator.log');
  const operatorSa = await operatorKubeconfig(state, join(stateDir, 'operator.kubeconfig'));
  // The console proxy (kubectl drover console) next to enrollment, with a certificate users can pin and the cluster's client CA.
  const consoleTls = await devConsoleTls(stateDir, enrollListen.split(':')[0] as string);
  const operator = await startOperatorProcess(repoRoot, operatorSa, operatorLog, [
    `--enroll-listen=${enrollListen}`,
    '--backoff-max=30s',
    `--console-tls-cert-file=${consoleTls.cert}`,
    `--console-tls-key-file=${consoleTls.key}`,
    `--client-ca-file=${state.pki.caCert}`,
  ]);
  Object.assign(dev, { operatorPids: [operator.pid], healthPorts: [operator.healthPort], enrollListen, namespace: ns });
  await writeFile(join(stateDir, 'dev.json'), JSON.stringify(dev, null, 2));
  log(`operator started (pid ${operator.pid}, health on 127.0.0.1:${operator.healthPort}, enrollment on https://${enrollListen}, log ${operatorLog})`);
  log(`console proxy on https://${enrollListen.split(':')[0]}:${CONSOLE_PORT} (its certificate: ${consoleTls.cert})`);
  const watched: Watched[] = [{ what: 'the operator', alive: () => isAlive(operator.pid), logFile: operatorLog }];

  log(`applying ${QUICKSTART_DIR} (namespace ${ns}: Manager ${quickstart.manager}, Hosts ${quickstart.hosts.map((h) => h.name).join(', ')}, ` +
    `StorageDomain ${quickstart.storageDomains.join(', ')}, VirtualMachine ${quickstart.vms.map((v) => v.name).join(', ')})`);
  await kubectl(['apply', '--server-side', '-f', join(repoRoot, QUICKSTART_DIR)]);
  const hostNames = testbed ? hostNamesFor(testbed, quickstart) : { names: [], extra: [] };
  for (const h of hostNames.extra) {
    log(`  and Host ${h.name} for the extra test host at ${h.address}`);
    const host = { apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: { name: h.name, namespace: ns }, spec: { address: h.address } };
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(host));
  }

  log(`waiting for the operator to create the Manager's CA (manager/${quickstart.manager} status.pki.caCertHash)`);
  const ca = await waitForManagerCa(kubectl, ns, quickstart.manager, 60_000, watched);
  log(`  CA in Secret ${ca.caSecretName}, ${ca.caCertHash}`);

  const problems: string[] = [];
  if (testbed) {
    const tokens: Record<string, string> = {};
    for (const name of hostNames.names) {
      tokens[name] = await createBootstrapToken(repoRoot, kubeconfig, { namespace: ns, host: name, ttl: '1h' });
      log(`  drover token create --namespace ${ns} --host ${name} --ttl 1h → ${redactToken(tokens[name])}`);
    }
    const enrollUrl = `https://${enrollListen}`;
    log(`starting agents in enrollment mode (--enroll-url=${enrollUrl} --ca-cert-hash=${ca.caCertHash})`);
    const { agents } = await startEnrollAgents(repoRoot, testbed, { url: enrollUrl, namespace: ns, caCertHash: ca.caCertHash, tokens, hostNames: hostNames.names });
    for (const agent of agents) {
      await waitForEnrolledAgent(agent, ca.caCertPem);
      log(`  ${agent.hostName} (${agent.host}): enrolled, serving https://${agent.ip}:${agent.port} (pid ${agent.pid}, log ${agent.logFile})`);
      watched.push({ what: `the agent of ${agent.hostName}`, alive: () => isAlive(agent.pid), logFile: agent.logFile });
    }

    const running = quickstart.vms.filter((v) => v.running);
    const timeoutMs = options.timeoutMs ?? 300_000;
    log(`waiting up to ${Math.round(timeoutMs / 1000)} s for ${running.map((v) => `virtualmachine/${v.name}`).join(', ')} to be Running`);
    try {
      await waitForRunning(kubectl, ns, running.map((v) => v.name), timeoutMs, watched, (line) => log(`  [${seconds(t0)}] ${line}`));
      for (const vm of running.filter((v) => v.guestIp)) {
        const answer = await guestAnswer(vm.guestIp!, 120_000);
        if (answer === 'ok') log(`  ${vm.name} answers http://${vm.guestIp}/healthz: ok`);
        else problems.push(`virtualmachine/${vm.name} is Running but http://${vm.guestIp}/healthz did not answer in 120 s (${answer})`);
      }
    } catch (error) {
      problems.push((error as Error).message);
    }
  }

  const { stdout } = await kubectl(['get', 'managers,hosts,storagedomains,virtualmachines,virtualmachinemigrations', '-n', ns, '-o', 'wide']);
  log('');
  log(`$ kubectl get managers,hosts,storagedomains,virtualmachines,virtualmachinemigrations -n ${ns} -o wide`);
  log(stdout.trimEnd());
  log('');
  log(`export KUBECONFIG=${kubeconfig}`);
  log(`logs: ${operatorLog}${testbed ? `, ${join(testbedDir, 'hosts', '<host>', 'logs')}/` : ''}`);
  log(`everything stays up until: bash scripts/dev-up.sh down`);
  if (problems.length > 0) {
    throw new Error(`dev up finished with problems (the environment is left up to look at):\n- ${problems.join('\n- ')}\n` +
      `operator log tail:\n${await tail(operatorLog, 20)}`);
  }
  log(`ready in ${seconds(t0).trim()}`);
}

/**
 * Polls the namespace's Hosts, StorageDomains and VirtualMachines until every
 * VM in `vms` is Running, printing a line whenever the picture changes.
 */
async function waitForRunning(kubectl: Kubectl, ns: string, vms: string[], timeoutMs: number, watched: readonly Watched[], progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let previous = '';
  for (;;) {
    for (const w of watched) {
      if (!(await w.alive())) throw new Error(`${w.what} exited${w.logFile ? `; see ${w.logFile}` : ''}`);
    }
    let items: KubeJson[] = [];
    try {
      items = (JSON.parse((await kubectl(['get', 'hosts,storagedomains,virtualmachines', '-n', ns, '-o', 'json'])).stdout) as { items: KubeJson[] }).items;
    } catch {
      // the next round tries again
    }
    const group = (kind: string) => items.filter((i) => i.kind === kind).map((i) => {
      const where = kind === 'VirtualMachine' && i.status?.['host'] ? ` on ${i.status['host'] as string}` : '';
      return `${i.metadata.name}=${phaseOf(i)}${where}`;
    });
    const line = `hosts: ${group('Host').join(', ')} | storage: ${group('StorageDomain').join(', ')} | vms: ${group('VirtualMachine').join(', ')}`;
    if (line !== previous) progress(line);
    previous = line;
    const done = vms.every((name) => items.some((i) => i.kind === 'VirtualMachine' && i.metadata.name === name && i.status?.['phase'] === 'Running'));
    if (done) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${vms.join(', ')} to be Running (${line})`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * GET http://ip/healthz from this (root) namespace, which shares the guests'
 * L2 segment through the management bridge; 'ok' once the guest answers.
 */
async function guestAnswer(ip: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(`http://${ip}/healthz`, { signal: AbortSignal.timeout(2000) });
      last = (await res.text()).trim();
      if (res.ok && last === 'ok') return 'ok';
    } catch (error) {
      last = String((error as Error).message);
    }
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Stops everything `devUp` started. */
export async function devDown(repoRoot: string, log: (line: string) => void): Promise<void> {
  const stateDir = join(repoRoot, DEV_STATE_DIR);
  const dev = await readDevState(stateDir);
  for (const pid of dev.operatorPids) await stopProcess(pid);
  await stopDevHosts(join(stateDir, 'testbed'));
  // Formatted storage domains and VM disks: meaningless without the control plane's objects.
  await rm(DEV_SHARED_DIR, { recursive: true, force: true });
  await rm(join(stateDir, 'dev.json'), { force: true });
  if (await readControlPlaneState(stateDir)) log('stopping kube-apiserver and etcd');
  await stopControlPlane(stateDir);
  log('dev environment stopped');
}

/**
 * The dev console proxy's serving certificate (self-signed, for the
 * gateway address), made once and kept in the state directory so
 * `DROVER_CONSOLE_CA_FILE` stays valid across `dev up` runs.
 */
async function devConsoleTls(stateDir: string, address: string): Promise<{ cert: string; key: string }> {
  const cert = join(stateDir, 'console.crt');
  const key = join(stateDir, 'console.key');
  if (!existsSync(cert) || !existsSync(key)) {
    const pair = await createSelfSignedServerCert('drover-console', { dns: ['localhost'], ips: [address, '127.0.0.1'] }, 365);
    await writeFile(key, pair.keyPem, { mode: 0o600 });
    await writeFile(cert, pair.certPem);
  }
  return { cert, key };
}
