/**
 * Test hosts for the development environment and the integration tests: the
 * multi-host test bed (src/dev/testbed) plus one `drover agent` per host,
 * started inside the host's namespaces against that host's own libvirtd.
 * Shared storage holds the directories the examples use and the tiny guest's
 * kernel and initrd.
 *
 * Agents start in one of two modes:
 * - certificates (the default): `--cert/--key/--ca` from the development
 *   Manager CA in `<stateDir>/pki` (the agent integration tests use this: they
 *   talk to agents directly, without an operator);
 * - enrollment (`enroll`): no certificates, a bootstrap token per host
 *   (handed over in `<host run dir>/bootstrap-token`); the agent enrolls with
 *   the operator's enrollment endpoint, gets a certificate signed by the
 *   Manager's own CA (its hash pinned with `--ca-cert-hash`), and then serves
 *   mutual TLS. This is how `drover dev up` and the end-to-end
 *   tests start them, as a user would on a real host.
 *
 * The test bed can also be brought up without agents ({@link prepareDevHosts})
 * and the agents started later ({@link startCertAgents}, {@link startEnrollAgents}),
 * since tokens and the CA hash only exist once the Manager is reconciled.
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { ensureGuestImage } from './guest-image/index.js';
import { ensureManagerPki, type ManagerPki } from './pki.js';
import { down, isAlive, startOnHost, tail, up, type Testbed } from './testbed/index.js';

/** Port agents listen on (VDSM's). */
export const AGENT_PORT = 54321;

/** Where the dev environment's shared storage lives (the examples' paths). */
export const DEV_SHARED_DIR = '/var/lib/drover/testbed/shared';

/** Paths on shared storage of the tiny guest, relative to the shared directory. */
export const GUEST_KERNEL_PATH = 'images/guest/vmlinuz';
export const GUEST_INITRD_PATH = 'images/guest/initrd.img';

/** One agent process on a test host. */
export interface DevAgent {
  /** Test-bed host name (the netns), e.g. `drover-1`. */
  host: string;
  /** The Host object this agent is (enrollment mode: the `--host-name` it enrolled as; else the test-bed name). */
  hostName: string;
  ip: string;
  pid: number;
  /** Start time of the process (clock ticks since boot), guarding against pid reuse. */
  startTime: number;
  port: number;
  logFile: string;
  argv: string[];
}

/** Hosts with running agents (certificate mode). */
export interface DevHosts {
  testbed: Testbed;
  pki: ManagerPki;
  agents: DevAgent[];
}

/** Hosts with running agents (enrollment mode: their certificates come from the Manager's CA). */
export interface EnrolledDevHosts {
  testbed: Testbed;
  agents: DevAgent[];
}

/** How agents enroll (see the module comment). */
export interface EnrollOptions {
  /** The operator's enrollment endpoint, e.g. `https://10.247.83.1:9443`. */
  url: string;
  /** Namespace of the Manager and its Hosts. */
  namespace: string;
  /** `sha256:<hex>` from the Manager's `status.pki.caCertHash`. */
  caCertHash: string;
  /** Bootstrap token (`<id>.<secret>`) per Host object name. */
  tokens: Record<string, string>;
  /**
   * Per test-bed host (in test-bed order), the name of the Host object it is;
   * default: the test-bed host name. Test-bed hosts without a token get no agent.
   */
  hostNames?: readonly string[];
}

/** Options for {@link startDevHosts}. */
export interface DevHostsOptions {
  stateDir: string;
  hosts: number;
  sharedDir?: string;
  subnet?: string;
  namePrefix?: string;
  /** Accelerator for VMs: TCG by default, since a Linux guest under nested KVM is slow here (see DESIGN). */
  acceleration?: 'auto' | 'kvm' | 'tcg';
  /** Extra agent flags (e.g. a short heartbeat in tests). */
  agentArgs?: string[];
  /** Niceness of the hosts' libvirtd and guests (the test bed's `daemonNice`). */
  daemonNice?: number;
  /** Start agents in enrollment mode instead of with development certificates. */
  enroll?: EnrollOptions;
}

/** Options of the agents themselves (both modes). */
export type AgentProcessOptions = Pick<DevHostsOptions, 'acceleration' | 'agentArgs'>;

/**
 * Brings up the test bed (network, namespaces, libvirt daemons) and lays out
 * shared storage (`data/`, `hosted-engine/`, the guest's kernel and initrd
 * under `images/guest/`), without starting any agent.
 */
export async function prepareDevHosts(options: Omit<DevHostsOptions, 'enroll' | 'acceleration' | 'agentArgs'>): Promise<Testbed> {
  const sharedDir = options.sharedDir ?? DEV_SHARED_DIR;
  await mkdir(sharedDir, { recursive: true });
  const testbed = await up({
    stateDir: options.stateDir,
    hosts: options.hosts,
    sharedDir,
    ...(options.subnet ? { subnet: options.subnet } : {}),
    ...(options.namePrefix ? { namePrefix: options.namePrefix } : {}),
    ...(options.daemonNice !== undefined ? { daemonNice: options.daemonNice } : {}),
  });
  try {
    for (const dir of ['data', 'images/guest', 'hosted-engine']) await mkdir(join(sharedDir, dir), { recursive: true });
    const guest = await ensureGuestImage();
    for (const [from, to] of [[guest.kernel, GUEST_KERNEL_PATH], [guest.initrd, GUEST_INITRD_PATH]] as const) {
      // A fresh file, not the old one overwritten: copyFile keeps an existing
      // file's extended attributes, and a QEMU killed by a previous run's
      // down() leaves libvirt's DAC reference count in them, so every start
      // would fail with "Setting different DAC user or group ... already in use".
      await rm(join(sharedDir, to), { force: true });
      await copyFile(from, join(sharedDir, to));
    }
    return testbed;
  } catch (error) {
    await down(options.stateDir);
    throw error;
  }
}

/** Flags every agent gets, whatever the mode. */
function commonAgentArgs(host: Testbed['hosts'][number], options: AgentProcessOptions): string[] {
  return [
    `--listen=${host.ip}:${AGENT_PORT}`,
    '--libvirt-uri=qemu:///system',
    `--acceleration=${options.acceleration ?? 'tcg'}`,
    `--state-dir=${join(host.runDir, 'agent')}`,
  ];
}

async function startAgent(repoRoot: string, host: Testbed['hosts'][number], hostName: string, flags: string[]): Promise<DevAgent> {
  const logFile = join(host.logDir, 'agent.log');
  const argv = [process.execPath, join(repoRoot, 'dist', 'cli', 'main.js'), 'agent', ...flags];
  const proc = await startOnHost(host, argv, logFile, { role: 'agent' });
  return { host: host.name, hostName, ip: host.ip, pid: proc.pid, startTime: proc.startTime, port: AGENT_PORT, logFile, argv };
}

/** Starts an agent on every test-bed host with certificates from the development Manager CA in `<stateDir>/pki`. */
export async function startCertAgents(repoRoot: string, testbed: Testbed, options: AgentProcessOptions = {}): Promise<DevHosts> {
  const pki = await ensureManagerPki(join(testbed.stateDir, 'pki'), testbed.hosts.map((h) => ({ name: h.name, ip: h.ip })));
  const agents: DevAgent[] = [];
  for (const host of testbed.hosts) {
    const certs = pki.hosts[host.name]!;
    agents.push(
      await startAgent(repoRoot, host, host.name, [
        ...commonAgentArgs(host, options),
        `--cert=${certs.cert}`, `--key=${certs.key}`, `--ca=${pki.caCert}`,
        ...(options.agentArgs ?? []),
      ]),
    );
  }
  return { testbed, pki, agents };
}

/**
 * Starts an agent in enrollment mode on every test-bed host that has a token
 * (by its Host object name, see {@link EnrollOptions.hostNames}).
 */
export async function startEnrollAgents(
  repoRoot: string,
  testbed: Testbed,
  enroll: EnrollOptions,
  options: AgentProcessOptions = {},
): Promise<EnrolledDevHosts> {
  if (enroll.hostNames && enroll.hostNames.length > testbed.hosts.length) {
    throw new Error(`enroll.hostNames names ${enroll.hostNames.length} hosts but the test bed has ${testbed.hosts.length}`);
  }
  const agents: DevAgent[] = [];
  for (const [i, host] of testbed.hosts.entries()) {
    const hostName = enroll.hostNames?.[i] ?? host.name;
    const token = enroll.tokens[hostName];
    if (token === undefined) continue;
    // In a file, not a flag: argv is visible in the process list (and in the test bed's state file).
    const tokenFile = join(host.runDir, 'bootstrap-token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    agents.push(
      await startAgent(repoRoot, host, hostName, [
        ...commonAgentArgs(host, options),
        `--enroll-url=${enroll.url}`,
        `--bootstrap-token-file=${tokenFile}`,
        `--host-name=${hostName}`,
        `--namespace=${enroll.namespace}`,
        `--ca-cert-hash=${enroll.caCertHash}`,
        ...(options.agentArgs ?? []),
      ]),
    );
  }
  return { testbed, agents };
}

/**
 * Brings up the test bed, lays out shared storage, and starts an agent on
 * every host: with development certificates, or in enrollment mode when
 * `options.enroll` is given.
 */
export async function startDevHosts(repoRoot: string, options: DevHostsOptions & { enroll: EnrollOptions }): Promise<EnrolledDevHosts>;
export async function startDevHosts(repoRoot: string, options: DevHostsOptions & { enroll?: undefined }): Promise<DevHosts>;
export async function startDevHosts(repoRoot: string, options: DevHostsOptions): Promise<DevHosts | EnrolledDevHosts> {
  const testbed = await prepareDevHosts(options);
  const agentOptions: AgentProcessOptions = { acceleration: options.acceleration, agentArgs: options.agentArgs };
  try {
    return options.enroll
      ? await startEnrollAgents(repoRoot, testbed, options.enroll, agentOptions)
      : await startCertAgents(repoRoot, testbed, agentOptions);
  } catch (error) {
    await down(options.stateDir);
    throw error;
  }
}

/**
 * Resolves once the agent at ip:port serves a certificate that chains to
 * `caPem` and names `ip` (so it has enrolled with that CA). The handshake
 * carries no client certificate, so the agent refuses the connection right
 * after; only its server certificate is checked. Fails at once, with the log's
 * tail, when the agent process exits.
 */
export async function waitForEnrolledAgent(agent: DevAgent, caPem: string | Buffer, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (!(await isAlive(agent.pid, agent.startTime))) {
      throw new Error(`the agent on ${agent.host} (${agent.hostName}) exited; ${agent.logFile}:\n${await tail(agent.logFile)}`);
    }
    const result = await new Promise<string>((resolve) => {
      const socket = connect({ host: agent.ip, port: agent.port, ca: caPem, rejectUnauthorized: true, timeout: 3000 }, () => {
        socket.destroy();
        resolve('ok');
      });
      socket.on('error', (e: Error) => {
        socket.destroy();
        resolve(e.message);
      });
      socket.on('timeout', () => {
        socket.destroy();
        resolve('timeout');
      });
    });
    if (result === 'ok') return;
    last = result;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for the agent on ${agent.host} (${agent.hostName}, https://${agent.ip}:${agent.port}) ` +
          `to serve a certificate from the Manager CA (last: ${last}); ${agent.logFile}:\n${await tail(agent.logFile)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Stops agents, libvirt daemons, VMs and namespaces of the test bed in `stateDir`. */
export async function stopDevHosts(stateDir: string): Promise<void> {
  await down(stateDir);
}
