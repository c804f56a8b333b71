/**
 * A multi-host libvirt test bed on one machine.
 *
 * Each test host is a network namespace (`ip netns add <prefix>-<n>`) plus a
 * persistent mount and UTS namespace, with its own /etc/libvirt,
 * /var/lib/libvirt, /run/libvirt, /var/log/libvirt and /var/cache/libvirt
 * (private bind mounts of directories under the state dir) and its own
 * virtlogd, virtlockd and libvirtd. Networking:
 *
 * ```
 *  root netns:  <prefix>-br (gateway .1) ── <prefix>-v1 ──┐   ── <prefix>-v2 ──┐
 *                                                          │                     │
 *  host netns:                            eth0 ─ br0 (.11) ┘  eth0 ─ br0 (.12)  ┘
 *                                               └─ vnetN (VM taps)
 * ```
 *
 * VM taps join the host's `br0`, so every VM shares one L2 segment with every
 * host and keeps its address when it migrates. A shared directory at the same
 * path in every host plays the shared storage domain.
 *
 * All state (names, pids) is kept in `<stateDir>/testbed.json`, so `down()`
 * works from another process and after a crash of `up()` halfway.
 */
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type ExecOptions, type ExecResult, ExecError, run, runChecked, sleep } from './exec.js';
import { libvirtConfigFiles } from './config.js';
import { ensureFaultfs, faultfsArgv, storageControl } from './faultfs.js';
import { type FoundProcess, isAlive, nsInode, procStartTime, processesInNamespaces, terminate } from './processes.js';
import { DEFAULT_SUBNET, type TestbedSubnet, hostAddress, inSubnet, parseSubnet } from './subnet.js';

/** Name of the state file inside the state directory. */
export const STATE_FILE = 'testbed.json';

/** Default prefix of namespace and interface names. */
export const DEFAULT_NAME_PREFIX = 'drover';

/** Options for {@link up}. */
export interface TestbedOptions {
  /** Directory for all test bed state (created; must not contain `"` or `\`). */
  stateDir: string;
  /** Number of test hosts (default 2). */
  hosts?: number;
  /** Management subnet inside 10.0.0.0/8 (default {@link DEFAULT_SUBNET}). */
  subnet?: string;
  /**
   * Prefix of network namespace and interface names (default `drover`, giving
   * netns `drover-1`, bridge `drover-br`, veths `drover-v1`...). At most 8
   * characters of `[a-z0-9]` so interface names fit in 15 bytes.
   */
  namePrefix?: string;
  /** Shared storage directory, same path in every host (default `<stateDir>/shared`). */
  sharedDir?: string;
  /** Configure libvirt's lockd lock manager with leases on shared storage (default true). */
  lockd?: boolean;
  /** How long to wait for each host's daemons (default 60 s). */
  readyTimeoutMs?: number;
  /**
   * libvirt's QEMU capabilities cache, shared by all test hosts and kept
   * across runs (default {@link DEFAULT_QEMU_CAPS_CACHE_DIR}). Every test host
   * runs the same QEMU on the same kernel and CPU, so one probe serves all;
   * libvirt itself invalidates entries when QEMU, libvirt or the kernel change.
   */
  qemuCapsCacheDir?: string;
  /**
   * Give every host its own cuttable path to the shared directory (default
   * true): a faultfs FUSE pass-through mounted over `sharedDir` inside the
   * host's mount namespace, which {@link cutStorage} makes fail with EIO. The
   * lockd lockspace then lives outside it, in `<stateDir>/lockspace`, so
   * lease conflicts between hosts stay those of one real file system.
   */
  storageFaults?: boolean;
  /**
   * Niceness (0–19) of each host's libvirtd, and so of the QEMU guests it
   * starts (default 0). Test hosts share this machine's CPUs with the control
   * plane, which real hypervisors do not: a benchmark booting dozens of TCG
   * guests at once sets it so they cannot starve the API server.
   */
  daemonNice?: number;
}

/** Default for {@link TestbedOptions.qemuCapsCacheDir}. */
export const DEFAULT_QEMU_CAPS_CACHE_DIR = '/var/cache/drover/libvirt-qemu-capabilities';

/** One test host, as recorded in the state file. */
export interface TestbedHost {
  /** Host name: the netns name and the hostname in its UTS namespace, e.g. `drover-1`. */
  name: string;
  /** 1-based index. */
  index: number;
  /** Address on the management network (on the host's `br0`). */
  ip: string;
  /** `ip` with the subnet's prefix length. */
  cidr: string;
  /** libvirt URI reaching this host's libvirtd from the root namespace. */
  libvirtUri: string;
  /** The bridge inside the host that VM interfaces attach to (`br0`). */
  vmBridge: string;
  /** Directory with this host's private state (etc, lib, run, log, cache, logs). */
  runDir: string;
  /** Where logs of processes started with {@link startOnHost} go by convention. */
  logDir: string;
  /** The test bed's state directory (so helpers can find the state file). */
  stateDir: string;
  /** `/run/netns/<name>`. */
  netnsPath: string;
  /** Bind-mounted mount namespace file. */
  mountNsPath: string;
  /** Bind-mounted UTS namespace file. */
  utsNsPath: string;
  /** libvirt host UUID (libvirtd.conf `host_uuid`). */
  hostUuid: string;
  /** Root-namespace end of the host's veth pair (member of the management bridge). */
  rootVeth: string;
  /** Control socket of the host's faultfs storage path, when the test bed has storage faults. */
  storageControl?: string;
}

/** What a recorded process is to its host (used to restart or power-cycle it). */
export type ProcessRole = 'virtlogd' | 'virtlockd' | 'libvirtd' | 'agent' | 'faultfs';

/** A long-lived process started inside a test host. */
export interface TestbedProcess {
  /** Host name. */
  host: string;
  pid: number;
  /** Start time (clock ticks since boot) guarding against pid reuse. */
  startTime: number;
  argv: string[];
  logFile: string;
  /** What the process is, when started with one (see {@link StartOptions.role}). */
  role?: ProcessRole;
  /** Extra environment it was started with (to start it again the same way). */
  env?: Record<string, string>;
}

/** The whole test bed, as recorded in `<stateDir>/testbed.json`. */
export interface Testbed {
  version: 1;
  /** `creating` until {@link up} finished; `up` afterwards. */
  phase: 'creating' | 'up';
  stateDir: string;
  namePrefix: string;
  subnet: TestbedSubnet;
  /** Management bridge in the root namespace (holds the gateway address). */
  bridge: string;
  /** Shared storage directory (same path in every host). */
  sharedDir: string;
  /**
   * virtlockd lockspace, when lockd is on: `<sharedDir>/lockspace`, or
   * `<stateDir>/lockspace` with storage faults (outside the FUSE mounts).
   */
  lockspaceDir?: string;
  /** Whether each host reaches `sharedDir` through its own faultfs mount (absent in older state files: no). */
  storageFaults?: boolean;
  /** {@link TestbedOptions.daemonNice}, when set: kept for every later start of the daemons (a power-on). */
  daemonNice?: number;
  /** Directory (bind-mounted onto itself, private) holding the namespace files. */
  nsDir: string;
  hosts: TestbedHost[];
  processes: TestbedProcess[];
  /** Whether /dev/kvm exists (and was made 0666). The test guest uses TCG either way. */
  kvm: boolean;
}

/** Directories every host gets privately, bind-mounted from `<runDir>/<dir>`. */
const PRIVATE_DIRS: readonly (readonly [target: string, sub: string])[] = [
  ['/etc/libvirt', 'etc'],
  ['/var/lib/libvirt', 'lib'],
  ['/run/libvirt', 'run'],
  ['/var/log/libvirt', 'log'],
  ['/var/cache/libvirt', 'cache'],
];

/**
 * Environment variables that would make a daemon think it is socket-activated
 * or supervised by systemd (set when the test runner itself is a systemd unit).
 */
const SUPERVISOR_ENV = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_PID', 'WATCHDOG_USEC'];

// ---------------------------------------------------------------------------
// State file

const stateLocks = new Map<string, Promise<unknown>>();

/** Serialises read-modify-write of one state file within this process. */
async function withState<T>(stateDir: string, fn: (s: Testbed) => Promise<T> | T): Promise<T> {
  const prev = stateLocks.get(stateDir) ?? Promise.resolve();
  const next = prev.then(async () => {
    const s = await readState(stateDir);
    if (!s) throw new Error(`no test bed state in ${stateDir}`);
    const result = await fn(s);
    await writeState(s);
    return result;
  });
  stateLocks.set(
    stateDir,
    next.catch(() => undefined),
  );
  return next;
}

/** Reads the recorded test bed, or `undefined` when there is none. */
export async function readState(stateDir: string): Promise<Testbed | undefined> {
  try {
    return JSON.parse(await readFile(path.join(stateDir, STATE_FILE), 'utf8')) as Testbed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeState(s: Testbed): Promise<void> {
  const file = path.join(s.stateDir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(s, null, 2)}\n`);
  await rename(tmp, file);
}

// ---------------------------------------------------------------------------
// Running things inside a host

/** nsenter options entering a host's namespaces, up to and including `--`. */
function nsenterOptions(host: TestbedHost): string[] {
  return [`--net=${host.netnsPath}`, `--mount=${host.mountNsPath}`, `--uts=${host.utsNsPath}`, '--'];
}

/** Options for {@link hostExec}. */
export interface HostExecOptions extends ExecOptions {
  /** Reject on a non-zero exit (default true). */
  check?: boolean;
}

/**
 * Runs a command inside a test host (its network, mount and UTS namespaces)
 * and waits for it. By default rejects with an {@link ExecError} on a
 * non-zero exit; pass `check: false` to inspect the result instead.
 */
export async function hostExec(host: TestbedHost, argv: readonly string[], opts: HostExecOptions = {}): Promise<ExecResult> {
  const full = ['nsenter', ...nsenterOptions(host), ...argv];
  const result = await run(full, opts);
  if ((opts.check ?? true) && result.code !== 0) throw new ExecError(full, result);
  return result;
}

/** Options for {@link startOnHost}. */
export interface StartOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * What the process is to its host, recorded with it: the fault primitives
   * restart an `agent` with the same argv ({@link restartAgent}) and power a
   * host back on by starting its daemons again.
   */
  role?: ProcessRole;
}

/**
 * Starts a long-lived process inside a test host, detached from the caller,
 * with stdout and stderr appended to `logFile`. It is recorded in the state
 * file, so {@link down} stops it even from another process. (nsenter execs the
 * program without forking, so the returned pid is the program's own.)
 */
export async function startOnHost(
  host: TestbedHost,
  argv: readonly string[],
  logFile: string,
  opts: StartOptions = {},
): Promise<TestbedProcess> {
  return startRecorded(host, ['nsenter', ...nsenterOptions(host)], argv, logFile, opts);
}

/**
 * Starts a detached process for `host` (inside it when `prefix` is the
 * nsenter prefix, in the root namespaces when empty) and records it.
 */
async function startRecorded(
  host: TestbedHost,
  prefix: readonly string[],
  argv: readonly string[],
  logFile: string,
  opts: StartOptions,
): Promise<TestbedProcess> {
  await mkdir(path.dirname(logFile), { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const k of SUPERVISOR_ENV) delete env[k];
  const full = [...prefix, ...argv];
  const fd = openSync(logFile, 'a');
  let pid: number;
  try {
    const child = spawn(full[0]!, full.slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env,
      cwd: '/',
    });
    pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => (child.pid === undefined ? reject(new Error('no pid')) : resolve(child.pid)));
    });
    child.unref();
  } finally {
    closeSync(fd);
  }
  const startTime = await procStartTime(pid);
  if (startTime === undefined) {
    throw new Error(`${argv.join(' ')} on ${host.name} exited at once; see ${logFile}:\n${await tail(logFile)}`);
  }
  const proc: TestbedProcess = {
    host: host.name,
    pid,
    startTime,
    argv: [...argv],
    logFile,
    ...(opts.role ? { role: opts.role } : {}),
    ...(opts.env ? { env: { ...opts.env } } : {}),
  };
  await withState(host.stateDir, (s) => {
    s.processes.push(proc);
  });
  return proc;
}

/**
 * Pids of every process currently inside a host's namespaces (its daemons,
 * QEMU processes, anything started there).
 */
export async function hostProcesses(host: TestbedHost): Promise<FoundProcess[]> {
  const [net, mnt] = await Promise.all([nsfsInode(host.netnsPath), nsfsInode(host.mountNsPath)]);
  return processesInNamespaces({ net: net === undefined ? [] : [net], mnt: mnt === undefined ? [] : [mnt] });
}

// ---------------------------------------------------------------------------
// up

/**
 * Creates the test bed: management bridge, N hosts with their namespaces,
 * private libvirt directories and daemons, shared storage. Any test bed
 * previously recorded in `stateDir` is torn down first. On failure everything
 * created so far is torn down again and the error (with log tails) rethrown.
 */
export async function up(opts: TestbedOptions): Promise<Testbed> {
  const hostsWanted = opts.hosts ?? 2;
  if (!Number.isInteger(hostsWanted) || hostsWanted < 1 || hostsWanted > 50) throw new Error(`hosts must be 1..50, got ${hostsWanted}`);
  const namePrefix = opts.namePrefix ?? DEFAULT_NAME_PREFIX;
  if (!/^[a-z][a-z0-9]{0,7}$/.test(namePrefix)) throw new Error(`namePrefix must match [a-z][a-z0-9]{0,7}: ${namePrefix}`);
  const stateDir = path.resolve(opts.stateDir);
  const subnet = parseSubnet(opts.subnet ?? DEFAULT_SUBNET);
  const sharedDir = path.resolve(opts.sharedDir ?? path.join(stateDir, 'shared'));
  for (const p of [stateDir, sharedDir]) {
    if (/["\\\s]/.test(p)) throw new Error(`test bed paths must not contain quotes, backslashes or whitespace: ${p}`);
  }
  const lockd = opts.lockd ?? true;
  const daemonNice = opts.daemonNice ?? 0;
  if (!Number.isInteger(daemonNice) || daemonNice < 0 || daemonNice > 19) throw new Error(`daemonNice must be an integer 0..19, got ${daemonNice}`);
  const storageFaults = opts.storageFaults ?? true;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const qemuCapsCacheDir = path.resolve(opts.qemuCapsCacheDir ?? DEFAULT_QEMU_CAPS_CACHE_DIR);

  await preflight();
  if (storageFaults && !existsSync('/dev/fuse')) {
    throw new Error('storage faults need /dev/fuse (modprobe fuse), or pass storageFaults: false');
  }
  if (await readState(stateDir)) await down(stateDir);
  await assertNoConflicts(subnet, namePrefix, hostsWanted);

  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  // QEMU runs as libvirt-qemu and must traverse the state and shared dirs.
  await chmod(stateDir, 0o755);
  const nsDir = path.join(stateDir, 'ns');
  // With storage faults the lockspace must not sit below the FUSE mounts:
  // cutting a host's storage would otherwise also cut its view of the leases
  // and detach anything mounted there. It stays one real directory that
  // every host sees at the same path.
  const lockspaceDir = lockd ? path.join(storageFaults ? stateDir : sharedDir, 'lockspace') : undefined;
  const faultfs = storageFaults ? await ensureFaultfs() : undefined;

  const hosts: TestbedHost[] = [];
  for (let index = 1; index <= hostsWanted; index++) {
    const name = `${namePrefix}-${index}`;
    const ip = hostAddress(subnet, index);
    const runDir = path.join(stateDir, 'hosts', name);
    hosts.push({
      name,
      index,
      ip,
      cidr: `${ip}/${subnet.prefixLength}`,
      libvirtUri: `qemu+tcp://${ip}/system`,
      vmBridge: 'br0',
      runDir,
      logDir: path.join(runDir, 'logs'),
      stateDir,
      netnsPath: `/run/netns/${name}`,
      mountNsPath: path.join(nsDir, `${name}.mnt`),
      utsNsPath: path.join(nsDir, `${name}.uts`),
      hostUuid: randomUUID(),
      rootVeth: `${namePrefix}-v${index}`,
      ...(storageFaults ? { storageControl: path.join(runDir, 'faultfs.sock') } : {}),
    });
  }
  const kvm = existsSync('/dev/kvm');
  const tb: Testbed = {
    version: 1,
    phase: 'creating',
    stateDir,
    namePrefix,
    subnet,
    bridge: `${namePrefix}-br`,
    sharedDir,
    ...(lockspaceDir ? { lockspaceDir } : {}),
    storageFaults,
    ...(daemonNice > 0 ? { daemonNice } : {}),
    nsDir,
    hosts,
    processes: [],
    kvm,
  };
  // Recorded before anything exists: a crash from here on leaves enough for down().
  await writeState(tb);

  try {
    for (const h of hosts) await rm(h.runDir, { recursive: true, force: true });
    await mkdir(sharedDir, { recursive: true, mode: 0o755 });
    if (lockspaceDir) await mkdir(lockspaceDir, { recursive: true, mode: 0o755 });
    if (kvm) await chmod('/dev/kvm', 0o666);

    // The mount points must exist in the root file system, which every host's
    // mount namespace starts as a copy of (minimal installs lack some).
    for (const [target] of PRIVATE_DIRS) await mkdir(target, { recursive: true, mode: 0o755 });

    // Namespace files may only be bind-mounted below a private mount.
    await mkdir(nsDir, { recursive: true, mode: 0o755 });
    await runChecked(['mount', '--bind', nsDir, nsDir]);
    await runChecked(['mount', '--make-private', nsDir]);

    await runChecked(['ip', 'link', 'add', 'name', tb.bridge, 'type', 'bridge']);
    await runChecked(['ip', 'link', 'set', 'dev', tb.bridge, 'alias', `${BRIDGE_ALIAS_PREFIX}${stateDir}`]);
    await runChecked(['ip', 'addr', 'add', `${subnet.gateway}/${subnet.prefixLength}`, 'dev', tb.bridge]);
    await runChecked(['ip', 'link', 'set', tb.bridge, 'up']);

    await mkdir(qemuCapsCacheDir, { recursive: true, mode: 0o755 });
    await Promise.all(hosts.map((h) => createHost(tb, h, qemuCapsCacheDir, readyTimeoutMs, faultfs)));
    // libvirt probes each QEMU binary lazily, on first use, taking seconds
    // (per host, per binary). Pay it here, once: the first host fills the
    // shared cache, the others then find it valid.
    const warm = (h: TestbedHost): Promise<ExecResult> =>
      runChecked(['virsh', '-c', h.libvirtUri, 'capabilities'], { timeoutMs: readyTimeoutMs });
    const [first, ...rest] = hosts;
    if (first) await warm(first);
    await Promise.all(rest.map(warm));
    await withState(stateDir, (s) => {
      s.phase = 'up';
    });
    const final = await readState(stateDir);
    if (!final) throw new Error('test bed state vanished');
    return final;
  } catch (err) {
    const logs = await Promise.all(
      hosts.map(async (h) => `--- ${h.name} libvirtd.log ---\n${await tail(path.join(h.runDir, 'log', 'libvirtd.log'))}`),
    );
    await down(stateDir).catch((e: unknown) => {
      logs.push(`(teardown after failure also failed: ${String(e)})`);
    });
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`test bed up failed: ${msg}\n${logs.join('\n')}`, { cause: err });
  }
}

async function createHost(
  tb: Testbed,
  h: TestbedHost,
  qemuCapsCacheDir: string,
  readyTimeoutMs: number,
  faultfs: string | undefined,
): Promise<void> {
  // Network: netns, veth pair into the management bridge, br0 inside.
  await runChecked(['ip', 'netns', 'add', h.name]);
  await runChecked(['ip', 'link', 'add', 'name', h.rootVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.name]);
  await runChecked(['ip', 'link', 'set', h.rootVeth, 'master', tb.bridge]);
  await runChecked(['ip', 'link', 'set', h.rootVeth, 'up']);
  const inNs = (...args: string[]): Promise<ExecResult> => runChecked(['ip', '-n', h.name, ...args]);
  await inNs('link', 'set', 'lo', 'up');
  // br0 gets eth0's MAC for good. A Linux bridge without an address of its
  // own takes the lowest MAC among its ports, and libvirt gives a guest's
  // tap the guest MAC with fe: in front. When eth0's random MAC sorts above
  // that (about one host in a hundred), br0, and so the host's IP, takes the
  // tap's MAC while the guest runs; and during a live migration both hosts
  // carry that same tap MAC, so each one's frames for the other are taken as
  // its own: the libvirt connection between them stalls until its keepalive
  // gives up, and the migration fails or hangs (seen in CI). An address set
  // explicitly is never recalculated; hosts configure their bridges so too.
  const eth0 = /link\/ether ([0-9a-f:]{17})/.exec((await inNs('-o', 'link', 'show', 'dev', 'eth0')).stdout)?.[1];
  if (!eth0) throw new Error(`no MAC address on eth0 of ${h.name}`);
  await inNs('link', 'add', 'name', h.vmBridge, 'address', eth0, 'type', 'bridge');
  await inNs('link', 'set', 'eth0', 'master', h.vmBridge);
  await inNs('link', 'set', 'eth0', 'up');
  await inNs('addr', 'add', h.cidr, 'dev', h.vmBridge);
  await inNs('link', 'set', h.vmBridge, 'up');

  // Private directories and configuration. The subdirectories are the ones
  // libvirt-daemon-system's package would ship (libvirtd creates the rest).
  for (const [, sub] of PRIVATE_DIRS) await mkdir(path.join(h.runDir, sub), { recursive: true, mode: 0o755 });
  for (const sub of ['log/qemu', 'cache/qemu', 'cache/qemu/capabilities', 'lib/images', 'lib/boot']) {
    await mkdir(path.join(h.runDir, sub), { recursive: true, mode: 0o711 });
  }
  // Each host resolves its own name and its peers' (as DNS would on a real
  // site); libvirt looks its hostname up on every connection.
  const hostsFile = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    ...tb.hosts.map((o) => `${o.ip}\t${o.name}`),
    '',
  ].join('\n');
  await writeFile(path.join(h.runDir, 'hosts'), hostsFile, { mode: 0o644 });
  await mkdir(h.logDir, { recursive: true, mode: 0o755 });
  await mkdir(path.join(h.runDir, 'cgroup'), { recursive: true });
  const files = libvirtConfigFiles({
    name: h.name,
    ip: h.ip,
    hostUuid: h.hostUuid,
    ...(tb.lockspaceDir ? { lockspaceDir: tb.lockspaceDir } : {}),
  });
  for (const [file, content] of Object.entries(files)) {
    await writeFile(path.join(h.runDir, 'etc', file), content, { mode: 0o644 });
  }

  // Persistent mount + UTS namespaces, held by bind mounts of their ns files.
  await writeFile(h.mountNsPath, '');
  await writeFile(h.utsNsPath, '');
  await runChecked(['unshare', `--mount=${h.mountNsPath}`, `--uts=${h.utsNsPath}`, '--propagation', 'private', 'true']);
  await hostExec(h, ['hostname', h.name]);
  for (const [target, sub] of PRIVATE_DIRS) {
    await hostExec(h, ['mount', '--bind', path.join(h.runDir, sub), target]);
  }
  await hostExec(h, ['mount', '--bind', path.join(h.runDir, 'hosts'), '/etc/hosts']);
  // The QEMU capabilities cache is the one thing shared (see TestbedOptions).
  await hostExec(h, ['mount', '--bind', qemuCapsCacheDir, '/var/cache/libvirt/qemu/capabilities']);
  // /sys shows the network devices of the netns that mounted it; libvirt
  // looks up bridges and taps there, so remount it from inside the host's
  // netns, keeping the cgroup tree that sits below it.
  await hostExec(h, ['mount', '--rbind', '/sys/fs/cgroup', path.join(h.runDir, 'cgroup')]);
  await hostExec(h, ['mount', '-t', 'sysfs', 'sysfs', '/sys']);
  await hostExec(h, ['mount', '--rbind', path.join(h.runDir, 'cgroup'), '/sys/fs/cgroup']);

  if (faultfs && h.storageControl) await mountStorage(h, tb.sharedDir, faultfs, h.storageControl, readyTimeoutMs);
  await startHostDaemons(tb, h, readyTimeoutMs);
}

/**
 * Mounts the host's own faultfs view of `sharedDir` over `sharedDir` inside
 * its mount namespace. The daemon runs in the root namespaces (where the
 * real directory is reachable under the same path) and is recorded with the
 * host, so down() stops it, but a power loss of the host ({@link
 * hostProcesses}) does not: it plays the storage network, not the host.
 */
async function mountStorage(h: TestbedHost, sharedDir: string, faultfs: string, control: string, readyTimeoutMs: number): Promise<void> {
  const argv = faultfsArgv(faultfs, { backing: sharedDir, mountpoint: sharedDir, mountNs: h.mountNsPath, control });
  const proc = await startRecorded(h, [], argv, path.join(h.logDir, 'faultfs.log'), { role: 'faultfs' });
  await waitFor(
    async () => {
      if (!(await isAlive(proc.pid, proc.startTime))) throw new Error(`faultfs for ${h.name} exited:\n${await tail(proc.logFile)}`);
      return existsSync(control) && (await storageControl(control, 'status').catch(() => undefined)) === 'passthrough';
    },
    readyTimeoutMs,
    `faultfs storage of ${h.name}`,
  );
  const fstype = (await hostExec(h, ['findmnt', '-n', '-o', 'FSTYPE', '--mountpoint', sharedDir])).stdout.trim();
  if (fstype !== 'fuse.faultfs') throw new Error(`${sharedDir} on ${h.name} is ${fstype || 'not a mount'}, not fuse.faultfs`);
}

/**
 * Starts a host's libvirt daemons (virtlogd, virtlockd when the test bed
 * uses lockd, libvirtd) and waits until libvirtd answers on its TCP URI.
 * Used by up() and, after a power loss, by {@link powerOn}.
 */
export async function startHostDaemons(tb: Testbed, h: TestbedHost, readyTimeoutMs = 60_000): Promise<void> {
  // Daemons, each with its pid file in the host's own /run/libvirt. libvirt 9
  // without systemd socket activation: libvirtd opens its TCP socket itself
  // when started with --listen and listen_tcp = 1.
  const runDir = path.join(h.runDir, 'run');
  await startOnHost(h, [await findBinary('virtlogd'), '-p', '/run/libvirt/virtlogd.pid'], path.join(h.logDir, 'virtlogd.out'), { role: 'virtlogd' });
  await waitFor(() => existsSync(path.join(runDir, 'virtlogd-sock')), readyTimeoutMs, `virtlogd on ${h.name}`);
  if (tb.lockspaceDir) {
    await startOnHost(h, [await findBinary('virtlockd'), '-p', '/run/libvirt/virtlockd.pid'], path.join(h.logDir, 'virtlockd.out'), {
      role: 'virtlockd',
    });
    await waitFor(() => existsSync(path.join(runDir, 'virtlockd-sock')), readyTimeoutMs, `virtlockd on ${h.name}`);
  }
  const libvirtd = await startOnHost(
    h,
    // QEMU is daemonized by libvirtd, so when it dies its parent is the
    // nearest subreaper. libvirt reports "Stopped Failed" only once the
    // process is reaped; a machine whose PID 1 reaps lazily (seen here: 1.4 s)
    // delays that event. tini -s makes itself the subreaper and reaps at once,
    // as systemd does on a real host.
    [
      // nice execs what follows, so the recorded process is still tini.
      ...(tb.daemonNice ? [await findBinary('nice'), '-n', String(tb.daemonNice)] : []),
      await findBinary('tini'),
      '-s',
      '-g',
      '--',
      await findBinary('libvirtd'),
      '--listen',
      '-p',
      '/run/libvirt/libvirtd.pid',
    ],
    path.join(h.logDir, 'libvirtd.out'),
    { role: 'libvirtd' },
  );
  await waitFor(
    async () => {
      if (!(await isAlive(libvirtd.pid, libvirtd.startTime))) {
        throw new Error(`libvirtd on ${h.name} exited:\n${await tail(libvirtd.logFile)}`);
      }
      const r = await run(['virsh', '-c', h.libvirtUri, 'uri'], { timeoutMs: 10_000 });
      return r.code === 0;
    },
    readyTimeoutMs,
    `libvirtd on ${h.name} answering ${h.libvirtUri}`,
  );
}

// ---------------------------------------------------------------------------
// down

/**
 * Tears the test bed recorded in `stateDir` down: stops every process in its
 * hosts (recorded ones and anything else found in their namespaces, QEMU
 * included), removes namespaces, veths, the bridge and every mount below
 * `stateDir`. Idempotent; works after a crash of {@link up} halfway. Logs
 * and host directories are kept for inspection. Rejects, keeping the state
 * file, if something could not be removed.
 */
export async function down(stateDir: string): Promise<void> {
  stateDir = path.resolve(stateDir);
  const tb = await readState(stateDir);
  const problems: string[] = [];
  if (tb) {
    // Processes: recorded + everything living in the hosts' namespaces. Run a
    // few rounds: a dying libvirtd may still have spawned something.
    const netInodes: number[] = [];
    const mntInodes: number[] = [];
    for (const h of tb.hosts) {
      const n = await nsfsInode(h.netnsPath);
      const m = await nsfsInode(h.mountNsPath);
      if (n !== undefined) netInodes.push(n);
      if (m !== undefined) mntInodes.push(m);
    }
    for (let round = 0; round < 3; round++) {
      const victims: { pid: number; startTime?: number }[] = [];
      for (const p of tb.processes) if (await isAlive(p.pid, p.startTime)) victims.push(p);
      for (const p of await processesInNamespaces({ net: netInodes, mnt: mntInodes })) {
        if (!victims.some((v) => v.pid === p.pid)) victims.push(p);
      }
      if (victims.length === 0) break;
      const left = await terminate(victims);
      if (round === 2 && left.length > 0) problems.push(`processes still running: ${left.map((p) => p.pid).join(', ')}`);
    }

    for (const h of tb.hosts) {
      for (const f of [h.mountNsPath, h.utsNsPath]) await unmount(f, problems);
      await run(['ip', 'link', 'del', h.rootVeth]);
      if (existsSync(h.netnsPath)) {
        const r = await run(['ip', 'netns', 'del', h.name]);
        if (r.code !== 0) problems.push(`ip netns del ${h.name}: ${r.stderr.trim()}`);
      }
      // Sockets and pid files of dead daemons would only confuse the next run.
      await rm(path.join(h.runDir, 'run'), { recursive: true, force: true });
    }
    if (await linkExists(tb.bridge)) {
      const owner = await bridgeOwner(tb.bridge);
      if (owner !== undefined && owner !== stateDir) {
        // Created by another test bed after ours was gone: not ours to delete.
      } else {
        const r = await run(['ip', 'link', 'del', tb.bridge]);
        if (r.code !== 0) problems.push(`ip link del ${tb.bridge}: ${r.stderr.trim()}`);
      }
    }
  }
  // Whatever is still mounted below the state dir (the private ns dir, ns
  // files, leftovers of an older run), deepest first.
  for (const m of (await mountsBelow(stateDir)).reverse()) await unmount(m, problems);

  if (problems.length > 0) throw new Error(`test bed down left things behind:\n${problems.join('\n')}`);
  await rm(path.join(stateDir, STATE_FILE), { force: true });
}

// ---------------------------------------------------------------------------
// helpers

/** Fails early, with the fix, when the host lacks the packages. */
async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the test bed needs root (namespaces, bridges, mounts)');
  const missing: string[] = [];
  for (const b of ['libvirtd', 'virtlogd', 'virtlockd', 'virsh', 'qemu-system-x86_64', 'ip', 'nsenter', 'unshare', 'mount']) {
    try {
      await findBinary(b);
    } catch {
      missing.push(b);
    }
  }
  const user = await run(['getent', 'passwd', 'libvirt-qemu']);
  if (user.code !== 0) missing.push('user libvirt-qemu');
  if (missing.length > 0) {
    throw new Error(`test bed prerequisites missing: ${missing.join(', ')}; run scripts/install-host-deps.sh as root`);
  }
}

const binaryCache = new Map<string, string>();

/** Absolute path of a program, searching PATH and the sbin directories (daemons live there). */
export async function findBinary(name: string): Promise<string> {
  const hit = binaryCache.get(name);
  if (hit) return hit;
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      const st = await stat(p);
      if (st.isFile() && (st.mode & 0o111) !== 0) {
        binaryCache.set(name, p);
        return p;
      }
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found`);
}

/**
 * Refuses to start where another test bed (or anything else) already uses the
 * names or the subnet, before anything is recorded: a failed up() tears down
 * what its state file lists, and that must never be somebody else's.
 */
async function assertNoConflicts(subnet: TestbedSubnet, namePrefix: string, hosts: number): Promise<void> {
  const bridge = `${namePrefix}-br`;
  if (await linkExists(bridge)) {
    const owner = await bridgeOwner(bridge);
    throw new Error(
      `interface ${bridge} already exists${owner ? ` (test bed in ${owner})` : ''}: run down() on that state dir, or use another namePrefix and subnet`,
    );
  }
  for (let i = 1; i <= hosts; i++) {
    if (existsSync(`/run/netns/${namePrefix}-${i}`)) {
      throw new Error(`network namespace ${namePrefix}-${i} already exists: another test bed uses namePrefix ${namePrefix}`);
    }
  }
  const r = await runChecked(['ip', '-o', '-4', 'addr', 'show']);
  for (const line of r.stdout.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\//.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    if (inSubnet(m[2], subnet)) {
      throw new Error(`subnet ${subnet.cidr} is already in use on ${m[1]} (${m[2]}); pass another subnet`);
    }
  }
}

/** Prefix of the management bridge's ifalias, naming the state dir that owns it. */
const BRIDGE_ALIAS_PREFIX = 'drover-testbed:';

/** State dir recorded in a management bridge's alias, if any. */
async function bridgeOwner(bridge: string): Promise<string | undefined> {
  const alias = (await readFile(`/sys/class/net/${bridge}/ifalias`, 'utf8').catch(() => '')).trim();
  return alias.startsWith(BRIDGE_ALIAS_PREFIX) ? alias.slice(BRIDGE_ALIAS_PREFIX.length) : undefined;
}

/** Inode of a namespace file, only if it really is one (a bind-mounted nsfs inode). */
async function nsfsInode(file: string): Promise<number | undefined> {
  const [self, target] = await Promise.all([stat('/proc/self/ns/net'), stat(file).catch(() => undefined)]);
  if (!target || target.dev !== self.dev) return undefined;
  return nsInode(file);
}

async function linkExists(name: string): Promise<boolean> {
  return (await run(['ip', 'link', 'show', 'dev', name])).code === 0;
}

/** Mount points at or below `dir` in the root mount namespace, in mount order. */
async function mountsBelow(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(`${dir}/`)) out.push(mp);
  }
  return out;
}

async function unmount(target: string, problems: string[]): Promise<void> {
  // A path can carry several stacked mounts (e.g. up() interrupted and rerun).
  for (let i = 0; i < 10; i++) {
    if (!(await mountsBelow(target)).includes(target)) return;
    const r = await run(['umount', target]);
    if (r.code !== 0) {
      const lazy = await run(['umount', '-l', target]);
      if (lazy.code !== 0) {
        problems.push(`umount ${target}: ${r.stderr.trim()} / ${lazy.stderr.trim()}`);
        return;
      }
    }
  }
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Last lines of a log file ('' if missing). */
export async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
