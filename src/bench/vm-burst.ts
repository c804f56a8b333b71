/**
 * VM burst on the real stack (issue 4): N tiny VMs applied at once against
 * a control plane, the operator (deploy/ ServiceAccount), two test-bed hosts
 * whose agents enrolled with bootstrap tokens, and a PosixFS StorageDomain on
 * the shared directory (src/bench/burst-env.ts).
 *
 * Measured, from a watch on the VMs (each VM's time is the first event that
 * shows it; the apply time is when the N concurrent creates were sent):
 * - apply → Running per VM (p50/p95/p99/max) and until all N run;
 * - 30 s of steady state once all run: API writes, heartbeats vs the rest;
 * - one live migration (VirtualMachineMigration create → Succeeded, the
 *   status' own start/completion, and the source agent's own log);
 * - delete all → each object gone (p50/p95/max), and no domain left in virsh;
 * - API requests per VM lifecycle from kube-apiserver's apiserver_request_total;
 * - where each VM's time went: watch times of the operator's writes
 *   (finalizer, placement, Running) against the agents' request log
 *   (volume create, define, start), plus the operator's own work-queue metrics.
 *
 * N: as many 128 MiB guests as half the memory the agents report allows,
 * capped by what the scheduler may place on this machine's CPU threads at
 * the Manager's highest CPU overcommit (less one slot for the migration) and
 * by `maxVms`; at least 20.
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { GUEST_CMDLINE_BASE } from '../dev/guest-image/index.js';
import { GUEST_INITRD_PATH, GUEST_KERNEL_PATH } from '../dev/hosts.js';
import { sumSamples } from '../runtime/prometheus-text.js';
import { guestAddress, hostProcesses, run } from '../dev/testbed/index.js';
import { isAlive, sleep } from '../dev/exec.js';
import { loadKubeConfig } from '../kube/config.js';
import { KubeObjectClient } from '../kube/client.js';
import type { KubeObject, WatchEvent } from '../kube/types.js';
import { Resources } from '../operator/resources.js';
import { agentCalls, readJsonLog, type AgentCall } from './agent-log.js';
import { diffCounts, scrapeRequests, writes, type RequestCounts } from './apiserver-metrics.js';
import { startBenchEnv, type BenchEnv } from './burst-env.js';
import { ObjectWatch } from './object-watch.js';
import { cpuSeconds, peakSampler, percentile, rssBytes } from './procstat.js';

/** Options of the scenario. */
export interface VmBurstOptions {
  /** N; default: chosen from the hosts' memory and CPU (see the module comment). */
  vms?: number;
  /** Upper bound of the chosen N. */
  maxVms: number;
  /** Length of the steady-state window. */
  idleSeconds: number;
  /** Extra operator flags (the figures in docs/ use none). */
  operatorArgs?: string[];
  /** LOG_LEVEL of the operator (the figures in docs/ use the default). */
  operatorLogLevel?: string;
  /** Copy the operator and agent logs here before the state directory is removed. */
  keepLogsDir?: string;
  /**
   * `linux` (default): the tiny guest. `firmware` (an experiment): no kernel, an
   * empty boot disk, so SeaBIOS finds nothing and idles: the stack's own
   * latency without N Linux boots competing for the CPU under TCG (stopped
   * with terminationGracePeriodSeconds 0: there is no OS to answer ACPI).
   */
  guest?: 'linux' | 'firmware';
  /**
   * `tcg` (default; what CI and the figures in docs/ use unless they say
   * otherwise) or `kvm`: the agents require KVM and every VM asks for it. Under
   * this machine's nested KVM only `firmware` guests run (the tiny guest's
   * kernel hangs in its decompressor), which is what makes the combination
   * useful: the start path with hardware acceleration, as on real hosts.
   */
  acceleration?: 'tcg' | 'kvm';
}

/** Distribution of a set of durations (ms). */
export interface Dist {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
}

/** Result figures (JSON-serialisable). */
export interface VmBurstResult {
  scenario: 'vm-burst';
  vms: number;
  choice: {
    hostMemoryBytes: number;
    vmMemory: string;
    perVmBudgetMiB: number;
    memoryShare: number;
    byMemory: number;
    cpuThreadsPerHost: number[];
    cpuOvercommitPercent: number;
    bySchedulableCpu: number;
    idleGuestCores: number;
    byIdleCpu: number;
    cap: number;
  };
  setup: { hosts: number; heartbeatIntervalSeconds: number; nonResponsiveAfterSeconds: number; operatorArgs: string[]; acceleration: string; guest: 'linux' | 'firmware'; guestNice?: number };
  createSeconds: number;
  applyToRunningMs: Dist;
  allRunningSeconds: number;
  placement: Record<string, number>;
  steadyState: {
    seconds: number;
    heartbeatWrites: number;
    otherDroverWrites: number;
    eventWrites: number;
    leaseWrites: number;
    otherWrites: number;
    vmWatchEvents: number;
    writesByKey: Record<string, number>;
  };
  guestsAnswering: { answered: number; secondsAfterApply: number | null };
  migration: {
    vm: string;
    from: string;
    to?: string;
    phase: string;
    createToSucceededMs: number | null;
    statusSeconds: number | null;
    agentMs: number | null;
    createToRunningOnTargetMs: number | null;
    requests: Record<string, number>;
  };
  deleteToGoneMs: Dist;
  allGoneSeconds: number;
  domainsLeft: Record<string, string[]>;
  requests: {
    burst: Record<string, number>;
    deletion: Record<string, number>;
    benchRequests: number;
    heartbeatWrites: number;
    operatorRequests: number;
    operatorWrites: number;
    operatorRequestsPerVm: number;
    operatorWritesPerVm: number;
    vmAndEventRequestsPerVm: number;
  };
  operator: { cpuSecondsBurst: number; cpuSecondsDeletion: number; peakRssMiB: number; errorLines: number; reconcile: Record<string, number> };
  /** idleCpuCores: CPU per guest during the steady-state window, in cores. */
  qemu: { processes: number; totalRssMiB: number; averageRssMiB: number; idleCpuCores: number };
  loadAverage: { before: number; atAllRunning: number };
  profile: {
    segmentsMs: Record<string, Dist>;
    agentCallsDuringBurst: Record<string, number>;
    perVm: Record<string, number | string | null>[];
  };
  watchErrors: string[];
  targets: { applyToRunningP50Ms: number; applyToRunningP95Ms: number; steadyOtherWrites: number };
}

/**
 * Niceness of the test hosts' libvirtd and guests. Here the hosts share two
 * cores with the API server, etcd and the operator, which real hypervisors do
 * not: 32 TCG guests booting at nice 0 starved the API server until the
 * leader's Lease renewal timed out (7.5 s) and the operator exited.
 */
const GUEST_NICE = 10;
const NAMESPACE = 'bench-vms';
const NAME_PREFIX = 'bvm';
const SUBNET = '10.247.94.0/24';
const VM_MEMORY = '128Mi';
const VM_MEMORY_BYTES = 128 * 2 ** 20;
/** What one TCG guest costs beyond its memory (QEMU, translation cache), for choosing N; the run reports the real RSS. */
const QEMU_OVERHEAD_BYTES = 128 * 2 ** 20;
/** Before the burst, wait (at most QUIET_WAIT_MS) for the 1-minute load average to fall below this. */
const QUIET_LOAD = 2;
const QUIET_WAIT_MS = 5 * 60_000;
/**
 * CPU one idle tiny guest keeps using under TCG, in cores (measured here:
 * 0.04–0.05; each run reports its own as qemu.idleCpuCores), and the share
 * of the machine's CPUs idle guests may take. 39 guests on 2 cores
 * saturated the machine: agent calls passed the operator's 15 s timeout,
 * heartbeats were missed and a migration took 35 s instead of 4.
 */
const IDLE_GUEST_CORES = 0.05;
const IDLE_CPU_SHARE = 0.8;
/** Share of the reported memory the guests may take. */
const MEMORY_SHARE = 0.75;
const AVAILABILITY = { heartbeatIntervalSeconds: 1, nonResponsiveAfterSeconds: 10 };
/** The Manager's highest CPU overcommit (src/api/manager.ts), so N is not cut to 4 vCPUs per thread. */
const CPU_OVERCOMMIT_PERCENT = 1000;
const FINALIZER = 'drover.io/finalizer';
const DROVER_RESOURCE = /^\w+ (managers|hosts|storagedomains|virtualmachines|virtualmachinemigrations)(\/\w+)?$/;

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** p50/p95/p99/max of `values` (ms, one decimal). */
export function dist(values: number[]): Dist {
  return { p50: round(percentile(values, 50)), p95: round(percentile(values, 95)), p99: round(percentile(values, 99)), max: round(Math.max(...values)), n: values.length };
}

/** What the watch saw of one VM (times in ms since the epoch). */
interface VmRecord {
  name: string;
  index: number;
  uid?: string;
  ackAt?: number;
  finalizerAt?: number;
  placedAt?: number;
  startingAt?: number;
  runningAt?: number;
  goneAt?: number;
  host?: string;
  phase?: string;
  events: number[];
  /** Every change of host or phase. */
  transitions: { at: number; host?: string; phase?: string }[];
}


async function operatorMetrics(env: BenchEnv): Promise<string> {
  try {
    return await (await fetch(`http://127.0.0.1:${env.operator.healthPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  } catch {
    return '';
  }
}

function vmManifest(env: BenchEnv, name: string, index: number, guest: 'linux' | 'firmware', acceleration: 'tcg' | 'kvm'): KubeObject {
  const subnet = env.testbed.subnet;
  const ip = guestAddress(subnet, index);
  const common = {
    runStrategy: 'Always',
    // kvm64 under KVM: this machine's nested KVM cannot set the MSRs (0x10a) a host-model CPU brings, and lacks the svm that qemu64 lists.
    cpu: acceleration === 'kvm' ? { cores: 1, model: 'kvm64' } : { cores: 1 },
    memory: VM_MEMORY,
    acceleration: acceleration === 'kvm' ? 'KVM' : 'TCG',
    networks: [{ name: 'mgmt', bridge: 'br0' }],
    diskDeletionPolicy: 'Delete',
  };
  const spec =
    guest === 'firmware'
      ? { ...common, disks: [{ name: 'data', storageDomain: 'shared', size: '64Mi', bootOrder: 1 }], terminationGracePeriodSeconds: 0 }
      : {
          ...common,
          boot: {
            storageDomain: 'shared',
            kernel: GUEST_KERNEL_PATH,
            initrd: GUEST_INITRD_PATH,
            // An address only so the benchmark can tell booted guests (graceful stops need a booted guest).
            cmdline: `${GUEST_CMDLINE_BASE} drover.ip=${ip}/${subnet.prefixLength} drover.name=${name}`,
          },
          disks: [{ name: 'data', storageDomain: 'shared', size: '64Mi' }],
        };
  return { apiVersion: 'drover.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: env.namespace }, spec };
}

/** Keys of a request count map as a plain sorted object. */
function sorted(counts: RequestCounts): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

function sumCounts(counts: RequestCounts, filter: (key: string) => boolean): number {
  let total = 0;
  for (const [k, v] of counts) if (filter(k)) total += v;
  return total;
}

function addCounts(a: RequestCounts, b: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map(a);
  for (const [k, v] of b) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** Waits until `done()` holds, failing early when the operator exits. */
async function until(what: string, env: BenchEnv, done: () => boolean, timeoutMs: number, progress?: () => string, log: (m: string) => void = console.error): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  while (!done()) {
    if (!isAlive(env.operator.pid)) throw new Error(`the operator exited while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${progress ? ` (${progress()})` : ''}`);
    if (progress && Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      log(`  … ${progress()}`);
    }
    await sleep(50);
  }
}

/** Runs the scenario in `<repo>/.drover/bench-vms`. */
export async function runVmBurst(repoRoot: string, options: VmBurstOptions, log: (m: string) => void): Promise<VmBurstResult> {
  const stateDir = join(repoRoot, '.drover', 'bench-vms');
  const env = await startBenchEnv(
    repoRoot,
    {
      stateDir,
      namePrefix: NAME_PREFIX,
      subnet: SUBNET,
      namespace: NAMESPACE,
      hosts: 2,
      managerSpec: { availability: AVAILABILITY, scheduling: { cpuOvercommitPercent: CPU_OVERCOMMIT_PERCENT } },
      ...(options.operatorArgs ? { operatorArgs: options.operatorArgs } : {}),
      ...(options.operatorLogLevel ? { operatorLogLevel: options.operatorLogLevel } : {}),
      acceleration: options.acceleration ?? 'tcg',
      daemonNice: GUEST_NICE,
    },
    log,
  );
  const watches: ObjectWatch[] = [];
  try {
    return await measure(env, options, log, watches);
  } finally {
    for (const w of watches) w.stop();
    if (options.keepLogsDir) {
      await mkdir(options.keepLogsDir, { recursive: true });
      await copyFile(env.operator.logFile, join(options.keepLogsDir, 'operator.log')).catch(() => undefined);
      for (const a of env.agents) await copyFile(a.logFile, join(options.keepLogsDir, `agent-${a.hostName}.log`)).catch(() => undefined);
    }
    log('stopping the operator, the test bed and the control plane');
    await env.stop();
  }
}

async function measure(env: BenchEnv, options: VmBurstOptions, log: (m: string) => void, watches: ObjectWatch[]): Promise<VmBurstResult> {
  const guest = options.guest ?? 'linux';
  const client = new KubeObjectClient(loadKubeConfig(env.controlPlane.adminKubeconfig), 'drover-bench');

  // --- N from what the agents report -----------------------------------------
  const hosts = await Promise.all(env.hostNames.map(async (h) => (await env.get('host', h))!));
  const memories = hosts.map((h) => Number(h.status?.['capabilities']?.memoryBytes ?? 0));
  const threads = hosts.map((h) => {
    const cpu = h.status?.['capabilities']?.cpu ?? {};
    return (cpu.sockets ?? 1) * (cpu.cores ?? 1) * (cpu.threads ?? 1);
  });
  // Every test host is this one machine: the hosts report the same memory, not a share of it each.
  const hostMemoryBytes = Math.min(...memories);
  const perVmBudget = VM_MEMORY_BYTES + QEMU_OVERHEAD_BYTES;
  // Three quarters of it for guests: the control plane, operator and agents (and whatever else runs here) keep the rest.
  const byMemory = Math.floor((hostMemoryBytes * MEMORY_SHARE) / perVmBudget);
  // The migration needs a free slot on its target.
  const bySchedulableCpu = threads.reduce((s, t) => s + Math.floor((t * CPU_OVERCOMMIT_PERCENT) / 100), 0) - 1;
  // Idle guests keep costing CPU under TCG (the emulated timer): no more than fill IDLE_CPU_SHARE of this machine's CPUs.
  const byIdleCpu = Math.floor((cpus().length * IDLE_CPU_SHARE) / IDLE_GUEST_CORES);
  const n = options.vms ?? Math.max(20, Math.min(byMemory, bySchedulableCpu, byIdleCpu, options.maxVms));
  log(`N = ${n} (memory ${round(hostMemoryBytes / 2 ** 30)} GiB → ${byMemory} VMs at ${perVmBudget / 2 ** 20} MiB each; schedulable vCPUs → ${bySchedulableCpu}; idle guests on ${cpus().length} CPUs → ${byIdleCpu}; cap ${options.maxVms})`);

  // --- watches ---------------------------------------------------------------------
  const names = Array.from({ length: n }, (_, i) => `burst-${String(i + 1).padStart(3, '0')}`);
  const records = new Map<string, VmRecord>(names.map((name, i) => [name, { name, index: i + 1, events: [], transitions: [] }]));
  const onVm = (event: WatchEvent, at: number) => {
    const o = event.object;
    const r = records.get(o.metadata.name);
    if (!r) return;
    r.events.push(at);
    r.uid ??= o.metadata.uid;
    if (event.type === 'DELETED') {
      r.goneAt ??= at;
      return;
    }
    if (!r.finalizerAt && (o.metadata.finalizers ?? []).includes(FINALIZER)) r.finalizerAt = at;
    const status = (o.status ?? {}) as { host?: string; phase?: string };
    if (status.host && !r.placedAt) r.placedAt = at;
    if (status.phase === 'Starting' && !r.startingAt) r.startingAt = at;
    if (status.phase === 'Running' && !r.runningAt) r.runningAt = at;
    if (status.host !== r.host || status.phase !== r.phase) r.transitions.push({ at, host: status.host, phase: status.phase });
    r.host = status.host;
    r.phase = status.phase;
  };
  watches.push(await ObjectWatch.start(client, Resources.VirtualMachine, env.namespace, onVm));
  const migrationPhases: { phase: string; at: number; status: Record<string, any> }[] = [];
  watches.push(
    await ObjectWatch.start(client, Resources.VirtualMachineMigration, env.namespace, (event, at) => {
      const status = (event.object.status ?? {}) as Record<string, any>;
      if (status['phase'] && migrationPhases.at(-1)?.phase !== status['phase']) migrationPhases.push({ phase: status['phase'], at, status });
      else if (migrationPhases.length > 0) migrationPhases.at(-1)!.status = status;
    }),
  );
  await sleep(1000);

  // --- burst ---------------------------------------------------------------------
  // The machine may be shared: give other work a few minutes to calm down first (the load is reported either way).
  const quietUntil = Date.now() + QUIET_WAIT_MS;
  if (loadavg()[0]! >= QUIET_LOAD) log(`waiting up to ${QUIET_WAIT_MS / 60_000} min for the 1-minute load average (${loadavg()[0]!.toFixed(2)}) to drop below ${QUIET_LOAD}`);
  while (loadavg()[0]! >= QUIET_LOAD && Date.now() < quietUntil) await sleep(5000);
  const loadBefore = loadavg()[0]!;
  const agentLogStart = Date.now();
  const before = await scrapeRequests(env.controlPlane);
  const opBefore = await operatorMetrics(env);
  const cpuBefore = cpuSeconds(env.operator.pid);
  const sampler = peakSampler(env.operator.pid, 250);
  log(`applying ${n} VirtualMachines at once`);
  const t0 = Date.now();
  await Promise.all(
    names.map(async (name, i) => {
      await client.create(Resources.VirtualMachine, vmManifest(env, name, i + 1, guest, options.acceleration ?? 'tcg'));
      records.get(name)!.ackAt = Date.now();
    }),
  );
  const created = Date.now();
  const all = [...records.values()];
  const runningCount = () => all.filter((r) => r.runningAt).length;
  await until(`all ${n} VMs to be Running`, env, () => runningCount() === n, 15 * 60_000, () =>
    `${runningCount()}/${n} Running, ${all.filter((r) => r.placedAt).length} placed, ${Math.round((Date.now() - t0) / 1000)} s`,
  );
  const allRunning = Math.max(...all.map((r) => r.runningAt!));
  const afterBurst = await scrapeRequests(env.controlPlane);
  const opAfter = await operatorMetrics(env);
  const cpuBurst = cpuSeconds(env.operator.pid) - cpuBefore;
  const loadAtRunning = loadavg()[0]!;
  log(`all ${n} Running ${((allRunning - t0) / 1000).toFixed(2)} s after the apply`);

  // --- steady state -----------------------------------------------------------------
  await sleep(5000);
  const qemuPids = async () => (await Promise.all(env.testbed.hosts.map((h) => hostProcesses(h)))).flat().filter((p) => p.comm.startsWith('qemu')).map((p) => p.pid);
  const guestPids = await qemuPids();
  const guestCpu = () => guestPids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  const idleStart = await scrapeRequests(env.controlPlane);
  const idleT0 = Date.now();
  const guestCpu0 = guestCpu();
  await sleep(options.idleSeconds * 1000);
  const guestCpu1 = guestCpu();
  const idleEnd = await scrapeRequests(env.controlPlane);
  const idleT1 = Date.now();
  const idleCpuCores = guestPids.length ? round((guestCpu1 - guestCpu0) / ((idleT1 - idleT0) / 1000) / guestPids.length, 3) : 0;
  const idle = diffCounts(idleStart, idleEnd);
  const vmWatchEvents = all.reduce((s, r) => s + r.events.filter((t) => t >= idleT0 && t <= idleT1).length, 0);
  const isWrite = (k: string) => writes(new Map([[k, 1]])) === 1;
  const steadyState = {
    seconds: options.idleSeconds,
    heartbeatWrites: writes(idle, (k) => k.endsWith(' hosts/status')),
    otherDroverWrites: writes(idle, (k) => DROVER_RESOURCE.test(k) && !k.endsWith(' hosts/status')),
    eventWrites: writes(idle, (k) => k.endsWith(' events')),
    leaseWrites: writes(idle, (k) => k.endsWith(' leases')),
    otherWrites: writes(idle, (k) => !DROVER_RESOURCE.test(k) && !k.endsWith(' events') && !k.endsWith(' leases')),
    vmWatchEvents,
    writesByKey: Object.fromEntries([...idle].filter(([k]) => isWrite(k)).sort(([a], [b]) => a.localeCompare(b))),
  };
  log(`steady state (${options.idleSeconds} s): ${steadyState.heartbeatWrites} heartbeat writes, ${steadyState.otherDroverWrites} other Drover writes, ${steadyState.eventWrites} event writes, ${vmWatchEvents} VM watch events`);

  // QEMU's real footprint, for the choice of N.
  const qemuCount = guestPids.length;
  const qemuRss = guestPids.reduce((s, pid) => s + rssBytes(pid), 0);

  // --- guests booted (graceful stops need them up) ---------------------------------------
  const answered = new Set<string>();
  const answerDeadline = Date.now() + 300_000;
  while (guest === 'linux' && answered.size < n && Date.now() < answerDeadline) {
    await Promise.all(
      all.filter((r) => !answered.has(r.name)).map(async (r) => {
        try {
          const res = await fetch(`http://${guestAddress(env.testbed.subnet, r.index)}/healthz`, { signal: AbortSignal.timeout(1500) });
          if (res.ok && (await res.text()).trim() === 'ok') answered.add(r.name);
        } catch {
          /* not yet */
        }
      }),
    );
    if (answered.size < n) await sleep(1000);
  }
  const guestsAnswering = { answered: answered.size, secondsAfterApply: answered.size === n ? round((Date.now() - t0) / 1000, 1) : null };
  if (guest === 'linux') log(`${answered.size}/${n} guests answer HTTP (${guestsAnswering.secondsAfterApply ?? '-'} s after the apply)`);

  // --- live migration ---------------------------------------------------------------------
  const perHost = new Map<string, VmRecord[]>();
  for (const r of all) perHost.set(r.host!, [...(perHost.get(r.host!) ?? []), r]);
  const [source, onSource] = [...perHost].sort((a, b) => b[1].length - a[1].length)[0]!;
  const migrated = onSource.filter((r) => answered.has(r.name))[0] ?? onSource[0]!;
  log(`migrating ${migrated.name} away from ${source}`);
  const migBefore = await scrapeRequests(env.controlPlane);
  const tm0 = Date.now();
  await client.create(Resources.VirtualMachineMigration, {
    apiVersion: 'drover.io/v1alpha1',
    kind: 'VirtualMachineMigration',
    metadata: { name: 'burst-migration', namespace: env.namespace },
    spec: { vmName: migrated.name },
  });
  const migrationDone = () => migrationPhases.some((p) => p.phase === 'Succeeded' || p.phase === 'Failed');
  await until('the migration to finish', env, migrationDone, 300_000);
  const final = migrationPhases.find((p) => p.phase === 'Succeeded' || p.phase === 'Failed')!;
  const target = final.status['targetHost'] as string | undefined;
  let runningOnTarget: number | null = null;
  if (final.phase === 'Succeeded') {
    await until(`${migrated.name} Running on ${target}`, env, () => migrated.host === target && migrated.phase === 'Running', 60_000).catch(() => undefined);
    const there = migrated.transitions.find((t) => t.at >= tm0 && t.host === target && t.phase === 'Running');
    if (there) runningOnTarget = there.at - tm0;
  }
  await sleep(2000);
  const migAfter = await scrapeRequests(env.controlPlane);
  const st = final.status;
  const statusSeconds = st['startTime'] && st['completionTime'] ? (Date.parse(st['completionTime']) - Date.parse(st['startTime'])) / 1000 : null;
  const sourceAgent = env.agents.find((a) => a.hostName === source);
  const sourceLog = sourceAgent ? await readJsonLog(sourceAgent.logFile) : [];
  const startedLine = sourceLog.find((l) => l.msg === 'migration started' && l.fields['uid'] === migrated.uid && l.time >= tm0 - 1000);
  const finishedLine = sourceLog.find((l) => l.msg === 'migration finished' && l.fields['uid'] === migrated.uid && l.time >= tm0 - 1000);
  const migration = {
    vm: migrated.name,
    from: source,
    ...(target ? { to: target } : {}),
    phase: final.phase,
    createToSucceededMs: final.phase === 'Succeeded' ? final.at - tm0 : null,
    statusSeconds,
    agentMs: startedLine && finishedLine ? finishedLine.time - startedLine.time : null,
    createToRunningOnTargetMs: runningOnTarget,
    requests: sorted(new Map([...diffCounts(migBefore, migAfter)].filter(([k]) => (DROVER_RESOURCE.test(k) || k.endsWith(' events')) && !k.startsWith('WATCH ')))),
  };
  log(`migration ${final.phase}: ${migration.createToSucceededMs ?? '-'} ms create → ${final.phase} (agent ${migration.agentMs ?? '-'} ms)`);

  // --- deletion ---------------------------------------------------------------------------
  await sleep(2000);
  const delBefore = await scrapeRequests(env.controlPlane);
  const cpuDelBefore = cpuSeconds(env.operator.pid);
  log(`deleting all ${n} VMs`);
  const td0 = Date.now();
  await env.kubectl(['delete', 'virtualmachines', '--all', '-n', env.namespace, '--wait=false']);
  const goneCount = () => all.filter((r) => r.goneAt).length;
  await until('every VM to be gone', env, () => goneCount() === n, 15 * 60_000, () => `${goneCount()}/${n} gone, ${Math.round((Date.now() - td0) / 1000)} s`);
  const allGone = Math.max(...all.map((r) => r.goneAt!));
  await sleep(1000);
  const delAfter = await scrapeRequests(env.controlPlane);
  const cpuDeletion = cpuSeconds(env.operator.pid) - cpuDelBefore;
  const peak = sampler.stop();
  const domainsLeft: Record<string, string[]> = {};
  for (const [i, h] of env.testbed.hosts.entries()) {
    const { stdout } = await run(['virsh', '-c', h.libvirtUri, 'list', '--all', '--name']);
    domainsLeft[env.hostNames[i]!] = stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  }
  log(`all gone ${((allGone - td0) / 1000).toFixed(2)} s after the delete; domains left: ${JSON.stringify(domainsLeft)}`);
  await env.kubectl(['delete', 'virtualmachinemigrations', '--all', '-n', env.namespace, '--timeout=60s']).catch(() => undefined);

  // --- requests per VM lifecycle ----------------------------------------------------------------
  const burst = diffCounts(before, afterBurst);
  const deletion = diffCounts(delBefore, delAfter);
  const lifecycle = addCounts(burst, deletion);
  // Watches are long-lived (re-established after inactivity), not a per-VM cost: left out.
  const relevant = (k: string) => (DROVER_RESOURCE.test(k) || k.endsWith(' events')) && !k.startsWith('WATCH ');
  // The benchmark's own: its N creates, and kubectl delete's list and N deletes.
  const isBench = (k: string) => /^(POST|DELETE|LIST) virtualmachines$/.test(k);
  const isHeartbeat = (k: string) => k.endsWith(' hosts/status');
  const operatorKey = (k: string) => relevant(k) && !isBench(k) && !isHeartbeat(k);
  const operatorRequests = sumCounts(lifecycle, operatorKey);
  const operatorWrites = writes(lifecycle, operatorKey);
  const vmAndEvents = sumCounts(lifecycle, (k) => /^\w+ (virtualmachines(\/\w+)?|events)$/.test(k) && !isBench(k));
  const requests = {
    burst: sorted(new Map([...burst].filter(([k]) => relevant(k)))),
    deletion: sorted(new Map([...deletion].filter(([k]) => relevant(k)))),
    benchRequests: sumCounts(lifecycle, (k) => relevant(k) && isBench(k)),
    heartbeatWrites: writes(lifecycle, isHeartbeat),
    operatorRequests,
    operatorWrites,
    operatorRequestsPerVm: round(operatorRequests / n, 2),
    operatorWritesPerVm: round(operatorWrites / n, 2),
    vmAndEventRequestsPerVm: round(vmAndEvents / n, 2),
  };

  // --- where the time went ------------------------------------------------------------------------
  const calls: AgentCall[] = [];
  for (const a of env.agents) calls.push(...agentCalls(await readJsonLog(a.logFile)).filter((c) => c.end >= agentLogStart && c.start <= allRunning + 1000));
  const callKinds = new Map<string, number>();
  for (const c of calls) {
    const kind = `${c.method} ${c.path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/, ':uid').replace(/\/volumes\/[^/]+/, '/volumes/:volume')}`;
    callKinds.set(kind, (callKinds.get(kind) ?? 0) + 1);
  }
  const perVm = all.map((r) => {
    const uid = r.uid ?? '?';
    const short = uid.replace(/-/g, '').slice(0, 8);
    const volume = calls.find((c) => c.method === 'PUT' && c.path.includes('/volumes/') && c.path.endsWith(`-${short}`));
    const define = calls.find((c) => c.method === 'PUT' && c.path === `/v1/vms/${uid}`);
    const start = calls.find((c) => c.method === 'POST' && c.path === `/v1/vms/${uid}/start`);
    const rel = (t: number | undefined) => (t === undefined ? null : t - t0);
    return {
      name: r.name,
      host: r.host ?? null,
      ack: rel(r.ackAt),
      finalizer: rel(r.finalizerAt),
      placed: rel(r.placedAt),
      volumeStart: rel(volume?.start),
      volumeEnd: rel(volume?.end),
      defineStart: rel(define?.start),
      defineEnd: rel(define?.end),
      startStart: rel(start?.start),
      startEnd: rel(start?.end),
      running: rel(r.runningAt),
      gone: r.goneAt === undefined ? null : r.goneAt - td0,
    };
  });
  const agentMs = (p: (typeof perVm)[number]): number | null =>
    p.volumeStart === null || p.volumeEnd === null || p.defineStart === null || p.defineEnd === null || p.startStart === null || p.startEnd === null
      ? null
      : p.volumeEnd - p.volumeStart + (p.defineEnd - p.defineStart) + (p.startEnd - p.startStart);
  const segment = (from: keyof (typeof perVm)[number], to: keyof (typeof perVm)[number]) =>
    dist(perVm.flatMap((p) => (typeof p[from] === 'number' && typeof p[to] === 'number' ? [(p[to] as number) - (p[from] as number)] : [])));
  let segmentsMs: Record<string, Dist> = {
    'apply → finalizer written (first reconcile)': dist(perVm.flatMap((p) => (p.finalizer === null ? [] : [p.finalizer]))),
    'finalizer → placement written (the same reconcile: schedule + status write)': segment('finalizer', 'placed'),
    'placement written → volume create starts': segment('placed', 'volumeStart'),
    'agent: volume create': segment('volumeStart', 'volumeEnd'),
    'volume created → define starts': segment('volumeEnd', 'defineStart'),
    'agent: define': segment('defineStart', 'defineEnd'),
    'defined → start starts': segment('defineEnd', 'startStart'),
    'agent: start': segment('startStart', 'startEnd'),
    'started → Running seen (status write from the start answer)': segment('startEnd', 'running'),
    'placement written → Running seen': segment('placed', 'running'),
    // What libvirt and the agent took, what the per-host start slots made a VM wait, and the rest: the control plane's own share.
    'agent calls, summed (volume create + define + start)': dist(perVm.flatMap((p) => (agentMs(p) === null ? [] : [agentMs(p)!]))),
    'waiting for a host start slot (placement written → volume create starts)': segment('placed', 'volumeStart'),
    'control plane (apply → Running, less the agent calls and the slot wait)': dist(
      perVm.flatMap((p) => {
        const a = agentMs(p);
        if (a === null || p.running === null || p.placed === null || p.volumeStart === null) return [];
        return [p.running - a - (p.volumeStart - p.placed)];
      }),
    ),
  };
  segmentsMs = { 'apply → create acknowledged': dist(perVm.flatMap((p) => (p.ack === null ? [] : [p.ack]))), ...segmentsMs };
  const reconcile = {
    vmReconciles: sumSamples(opAfter, 'controller_runtime_reconcile_total', 'controller="virtualmachine"') - sumSamples(opBefore, 'controller_runtime_reconcile_total', 'controller="virtualmachine"'),
    vmReconcileErrors: sumSamples(opAfter, 'controller_runtime_reconcile_errors_total', 'controller="virtualmachine"') - sumSamples(opBefore, 'controller_runtime_reconcile_errors_total', 'controller="virtualmachine"'),
    vmReconcileSeconds: round(sumSamples(opAfter, 'controller_runtime_reconcile_time_seconds_sum', 'controller="virtualmachine"') - sumSamples(opBefore, 'controller_runtime_reconcile_time_seconds_sum', 'controller="virtualmachine"'), 2),
    vmQueueWaitSeconds: round(sumSamples(opAfter, 'workqueue_queue_duration_seconds_sum', 'name="virtualmachine"') - sumSamples(opBefore, 'workqueue_queue_duration_seconds_sum', 'name="virtualmachine"'), 2),
    vmQueueItems: sumSamples(opAfter, 'workqueue_queue_duration_seconds_count', 'name="virtualmachine"') - sumSamples(opBefore, 'workqueue_queue_duration_seconds_count', 'name="virtualmachine"'),
    maxConcurrentReconciles: sumSamples(opAfter, 'controller_runtime_max_concurrent_reconciles', 'controller="virtualmachine"'),
  };
  const operatorLog = await readJsonLog(env.operator.logFile);
  const errorLines = operatorLog.filter((l) => (l.fields['level'] === 'error' || l.fields['level'] === 'warn') && l.time >= t0).length;

  const latencies = all.map((r) => r.runningAt! - t0);
  const placement: Record<string, number> = {};
  for (const [h, rs] of perHost) placement[h] = rs.length;
  return {
    scenario: 'vm-burst',
    vms: n,
    choice: {
      hostMemoryBytes,
      vmMemory: VM_MEMORY,
      perVmBudgetMiB: perVmBudget / 2 ** 20,
      memoryShare: MEMORY_SHARE,
      byMemory,
      cpuThreadsPerHost: threads,
      cpuOvercommitPercent: CPU_OVERCOMMIT_PERCENT,
      bySchedulableCpu,
      idleGuestCores: IDLE_GUEST_CORES,
      byIdleCpu,
      cap: options.maxVms,
    },
    setup: { hosts: env.hostNames.length, ...AVAILABILITY, operatorArgs: options.operatorArgs ?? [], acceleration: options.acceleration ?? 'tcg', guest, guestNice: GUEST_NICE },
    createSeconds: round((created - t0) / 1000, 3),
    applyToRunningMs: dist(latencies),
    allRunningSeconds: round((allRunning - t0) / 1000, 3),
    placement,
    steadyState,
    guestsAnswering,
    migration,
    deleteToGoneMs: dist(all.map((r) => r.goneAt! - td0)),
    allGoneSeconds: round((allGone - td0) / 1000, 3),
    domainsLeft,
    requests,
    operator: { cpuSecondsBurst: round(cpuBurst, 2), cpuSecondsDeletion: round(cpuDeletion, 2), peakRssMiB: round(peak / 2 ** 20), errorLines, reconcile },
    qemu: { processes: qemuCount, totalRssMiB: round(qemuRss / 2 ** 20), averageRssMiB: qemuCount ? round(qemuRss / qemuCount / 2 ** 20) : 0, idleCpuCores },
    loadAverage: { before: round(loadBefore, 2), atAllRunning: round(loadAtRunning, 2) },
    profile: { segmentsMs, agentCallsDuringBurst: Object.fromEntries([...callKinds].sort(([a], [b]) => a.localeCompare(b))), perVm },
    watchErrors: watches.flatMap((w) => w.errors),
    targets: { applyToRunningP50Ms: 1500, applyToRunningP95Ms: 3000, steadyOtherWrites: 0 },
  };
}

/** Reads an earlier result (for the run history kept in the JSON). */
export function readPreviousRuns(file: string): Record<string, unknown>[] {
  try {
    const previous = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
    const own = {
      date: previous['machine']?.date,
      vms: previous['vms'],
      operatorArgs: previous['setup']?.operatorArgs ?? [],
      p50: previous['applyToRunningMs']?.p50,
      p95: previous['applyToRunningMs']?.p95,
      p99: previous['applyToRunningMs']?.p99,
      max: previous['applyToRunningMs']?.max,
      allRunningSeconds: previous['allRunningSeconds'],
      deleteP50: previous['deleteToGoneMs']?.p50,
      deleteP95: previous['deleteToGoneMs']?.p95,
      allGoneSeconds: previous['allGoneSeconds'],
      migrationMs: previous['migration']?.createToSucceededMs,
      operatorRequestsPerVm: previous['requests']?.operatorRequestsPerVm,
      steadyOtherWrites: previous['steadyState']?.otherDroverWrites,
      steadyHeartbeatWrites: previous['steadyState']?.heartbeatWrites,
      reconcileErrors: previous['operator']?.reconcile?.vmReconcileErrors,
      loadBefore: previous['loadAverage']?.before,
      idleGuestCores: previous['qemu']?.idleCpuCores,
    };
    return [own, ...((previous['previousRuns'] as Record<string, unknown>[] | undefined) ?? [])].slice(0, 5);
  } catch {
    return [];
  }
}
