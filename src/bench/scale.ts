/**
 * Scale benchmark (issue 8): one operator, H simulated hosts (default 100)
 * and V VirtualMachines (default 2,000), on a real kube-apiserver + etcd.
 * The hosts are real agent servers over the simulated hypervisor
 * (src/hypervisor/simulated/, latencies measured from real libvirt) in a
 * child process (src/bench/scale-env.ts). Scenarios, in this order, each
 * starting from where the previous one left the fleet:
 *
 * - cold start: V HA VMs created at once (32 concurrent clients) → every VM
 *   Running (from a watch); API requests by verb (apiserver_request_total),
 *   operator CPU seconds and peak RSS, work-queue depth;
 * - steady state: D seconds with nothing changing → writes per minute by
 *   resource; Host status writes against the heartbeat budget (one per host
 *   per heartbeat interval), other writes to Drover's kinds (target none);
 * - churn: C creates and C deletes per second for S seconds (new VMs
 *   created, cold-start VMs deleted, so the total stays V) → apply → Running
 *   per created VM, delete → gone, work-queue depth sampled every second
 *   from the operator's /metrics;
 * - leader failover: a second replica started (warm caches), the leader
 *   SIGKILLed, a new VM created right after → Lease taken over, the probe VM
 *   Running, every VM reconciled by the new leader (its
 *   controller_runtime_reconcile_total) with an empty queue, every Host
 *   heartbeat written again; caught up = the latest of those;
 * - host loss: the host with most VMs dies (its simulated hypervisor powers
 *   off, its agent stops answering) → each of its HA VMs Running on another
 *   host, or "not restarted within T" with what the VMs' status said.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive, sleep } from '../dev/exec.js';
import { KubeObjectClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { KubeObject, ResourceType, WatchEvent } from '../kube/types.js';
import { Resources } from '../operator/resources.js';
import { sumSamples } from '../runtime/prometheus-text.js';
import { parseDuration } from '../cli/duration.js';
import { DEFAULT_OPERATOR_OPTIONS } from '../operator/operator.js';
import { diffCounts, scrapeRequests, type RequestCounts } from './apiserver-metrics.js';
import { cpuSeconds, peakSampler, rssBytes } from './procstat.js';
import { ObjectWatch } from './object-watch.js';
import { readJsonLog } from './agent-log.js';
import { startScaleEnv, type ScaleEnv, type ScaleOperator } from './scale-env.js';
import { churnSchedule, distribution, round, samplesByLabel, steadyVerdict, summarizeGauge, writesPerMinute, type Dist, type GaugeSummary } from './scale-stats.js';

/** The scenarios, in the order they run. */
export const SCALE_SCENARIOS = ['cold', 'steady', 'churn', 'failover', 'hostloss'] as const;
export type ScaleScenario = (typeof SCALE_SCENARIOS)[number];

/** Options of the benchmark. */
export interface ScaleOptions {
  hosts: number;
  vms: number;
  /** Latency scale of the simulated hypervisors (1: measured libvirt figures). */
  latencyScale: number;
  /** Steady-state window. */
  steadySeconds: number;
  churnPerSecond: number;
  churnSeconds: number;
  /** How long host loss waits for the lost host's VMs to run elsewhere. */
  hostLossTimeoutSeconds: number;
  /** How long leader failover waits for the new leader to catch up. */
  failoverTimeoutSeconds: number;
  /** The Manager's heartbeat interval (its default: 5 s). */
  heartbeatIntervalSeconds: number;
  /** Which scenarios run after cold start (which always runs). */
  scenarios: readonly ScaleScenario[];
  /** Extra operator flags. */
  operatorArgs?: string[];
  /** Write the operator's V8 CPU profile (`--cpu-prof`) here when it stops. */
  cpuProfileDir?: string;
  /** Extra Node.js flags of the operator processes (experiments, e.g. heap settings). */
  operatorNodeArgs?: string[];
  /** Copy the operator and fleet logs here before cleaning up. */
  keepLogsDir?: string;
}

export const DEFAULT_SCALE_OPTIONS: ScaleOptions = {
  hosts: 100,
  vms: 2000,
  latencyScale: 1,
  steadySeconds: 600,
  churnPerSecond: 20,
  churnSeconds: 60,
  hostLossTimeoutSeconds: 300,
  failoverTimeoutSeconds: 120,
  heartbeatIntervalSeconds: 5,
  scenarios: SCALE_SCENARIOS,
};

/** The issue's targets (for 100 hosts and 2,000 VMs). */
export const SCALE_TARGETS = {
  coldStartSeconds: 60,
  peakRssMiB: 300,
  steadyWritesPerHostPerInterval: 1,
  steadyOtherWrites: 0,
  churnApplyToRunningP95Ms: 5000,
  failoverCaughtUpSeconds: 20,
  targetHosts: 100,
  targetVms: 2000,
};

interface ProcessFigures {
  cpuSeconds: number;
}

/** Result figures (JSON-serialisable). */
export interface ScaleResult {
  scenario: 'scale';
  setup: {
    hosts: number;
    vms: number;
    latencyScale: number;
    heartbeatIntervalSeconds: number;
    operatorArgs: string[];
    scenarios: string[];
    vmSpec: Record<string, unknown>;
    cpuProfile: boolean;
  };
  loadAverage: Record<string, number>;
  coldStart: {
    createSeconds: number;
    allRunningSeconds: number | null;
    running: number;
    applyToRunningMs: Dist;
    requests: Record<string, number>;
    operatorRequests: number;
    operatorCpuSeconds: number;
    operatorPeakRssMiB: number;
    operatorRssAfterMiB: number;
    /** CPU seconds of the other processes on this machine's share of the work. */
    otherCpuSeconds: { fleet: number; apiserver: number; etcd: number };
    queueDepth: Record<string, GaugeSummary>;
    reconcile: Record<string, number>;
    placement: { hostsUsed: number; minPerHost: number; maxPerHost: number };
  };
  steady?: {
    seconds: number;
    writesPerMinute: Record<string, number>;
    hostStatusWrites: number;
    heartbeatBudget: number;
    writesPerHostPerInterval: number;
    otherDroverWrites: number;
    otherDroverWritesByKey: Record<string, number>;
    operatorCpuSeconds: number;
    operatorRssMiB: number;
  };
  churn?: {
    perSecond: number;
    seconds: number;
    created: number;
    deleted: number;
    createErrors: number;
    deleteErrors: number;
    applyToRunningMs: Dist;
    notRunning: number;
    deleteToGoneMs: Dist;
    notGone: number;
    queueDepth: Record<string, GaugeSummary>;
    requests: Record<string, number>;
    operatorCpuSeconds: number;
    operatorPeakRssMiB: number;
  };
  failover?: {
    vms: number;
    killedLeader: string;
    newLeader: string | null;
    leaseTakenSeconds: number | null;
    probeRunningSeconds: number | null;
    allReconciledSeconds: number | null;
    heartbeatsResumedSeconds: number | null;
    caughtUpSeconds: number | null;
    timeoutSeconds: number;
    newLeaderCpuSeconds: number;
    newLeaderRssMiB: number;
    settings: { leaseDurationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
  };
  hostLoss?: {
    host: string;
    vmsOnHost: number;
    restarted: number;
    allRestartedSeconds: number | null;
    restartMs: Dist;
    hostNonResponsiveSeconds: number | null;
    timeoutSeconds: number;
    /** What the lost host's VMs' status said at the end. */
    endState: Record<string, number>;
    conditions: Record<string, number>;
  };
  operator: { peakRssMiB: number; errorLines: number; exited: string[] };
  watchErrors: string[];
  targets: typeof SCALE_TARGETS;
}

/** The leading operator process is gone (not killed by the benchmark): the run stops there and says so. */
class OperatorExited extends Error {
  constructor(op: ScaleOperator) {
    let last = '';
    try {
      // The last warning or error it logged, e.g. a lost Lease.
      const lines = readFileSync(op.logFile, 'utf8').slice(-20_000).split('\n').filter((l) => /"level":("error"|"warn"|50|40)/.test(l));
      const msg = /"msg":"([^"]*)"/.exec(lines[lines.length - 1] ?? '')?.[1];
      if (msg) last = `; its last warning or error: ${msg}`;
    } catch {
      /* no log */
    }
    super(`the operator ${op.identity} exited${last}`);
    this.name = 'OperatorExited';
  }
}

/** What the watch saw of one VM (ms since the epoch). */
interface VmRecord {
  name: string;
  sentAt?: number;
  deleteSentAt?: number;
  runningAt?: number;
  goneAt?: number;
  host?: string;
  phase?: string;
  object?: KubeObject;
  /** Set while host loss watches: the first time it ran on another host after the loss. */
  restartedAt?: number;
}

const NAMESPACE = 'scale';
const CREATE_CONCURRENCY = 32;
const VM_SPEC = {
  runStrategy: 'Always',
  highAvailability: { enabled: true },
  cpu: { cores: 1 },
  memory: '256Mi',
  disks: [{ name: 'root', storageDomain: 'shared', size: '64Mi', bootOrder: 1 }],
  // Firmware-only guests answer no ACPI: deletion destroys at once.
  terminationGracePeriodSeconds: 0,
};
/**
 * The leader election timings the replicas run with: the operator's defaults
 * (src/operator/operator.ts) unless `--lease-duration`, `--renew-deadline`
 * or `--retry-period` is among the operator flags.
 */
export function leaseSettings(operatorArgs: readonly string[] = []): { leaseDurationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number } {
  const flag = (name: string): number | undefined => {
    for (let i = 0; i < operatorArgs.length; i++) {
      const a = operatorArgs[i]!;
      const value = a === name ? operatorArgs[i + 1] : a.startsWith(`${name}=`) ? a.slice(name.length + 1) : undefined;
      if (value !== undefined) return parseDuration(value) / 1000;
    }
    return undefined;
  };
  const d = DEFAULT_OPERATOR_OPTIONS;
  return {
    leaseDurationSeconds: flag('--lease-duration') ?? d.leaseDurationMs / 1000,
    renewDeadlineSeconds: flag('--renew-deadline') ?? d.renewDeadlineMs / 1000,
    retryPeriodSeconds: flag('--retry-period') ?? d.retryPeriodMs / 1000,
  };
}

async function metricsOf(op: ScaleOperator): Promise<string> {
  try {
    return await (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  } catch {
    return '';
  }
}

/** Samples every controller's work-queue depth once a second until stopped. */
function queueSampler(op: () => ScaleOperator): { stop(): Promise<Record<string, GaugeSummary>> } {
  const samples = new Map<string, number[]>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const text = await metricsOf(op());
      for (const [name, v] of Object.entries(samplesByLabel(text, 'workqueue_depth', 'name'))) {
        if (!samples.has(name)) samples.set(name, []);
        samples.get(name)!.push(v);
      }
      await sleep(1000);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return Object.fromEntries([...samples].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, summarizeGauge(v)]));
    },
  };
}

function sortedCounts(c: RequestCounts): Record<string, number> {
  return Object.fromEntries([...c].sort(([a], [b]) => a.localeCompare(b)));
}

function vmManifest(name: string): KubeObject {
  return { apiVersion: 'drover.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NAMESPACE }, spec: VM_SPEC };
}

/** Runs `fn` over `items` with `concurrency` at a time; returns the number of failures. */
async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        await fn(item).catch(() => (failures += 1));
      }
    }),
  );
  return failures;
}

/** Runs the benchmark in `<repo>/.drover/bench-scale`. */
export async function runScale(repoRoot: string, options: ScaleOptions, log: (m: string) => void): Promise<ScaleResult> {
  const stateDir = join(repoRoot, '.drover', 'bench-scale');
  const loadAverage: Record<string, number> = { atStart: round(loadavg()[0]!, 2) };
  log(`scale: ${options.hosts} simulated hosts, ${options.vms} VMs; ${cpus().length} CPUs, load ${loadAverage['atStart']}`);
  const env = await startScaleEnv(
    repoRoot,
    {
      stateDir,
      namespace: NAMESPACE,
      hosts: options.hosts,
      latencyScale: options.latencyScale,
      managerSpec: { availability: { heartbeatIntervalSeconds: options.heartbeatIntervalSeconds } },
      ...(options.operatorArgs ? { operatorArgs: options.operatorArgs } : {}),
      operatorNodeArgs: [...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []), ...(options.operatorNodeArgs ?? [])],
    },
    log,
  );
  const watches: ObjectWatch[] = [];
  let keepLogsDir = options.keepLogsDir;
  try {
    return await measure(env, options, log, watches, loadAverage);
  } catch (error) {
    // The state directory goes away with the environment: keep the logs of a failed run.
    keepLogsDir ??= join(repoRoot, '.drover', 'bench-scale-failed');
    log(`scale benchmark failed; logs kept in ${keepLogsDir}`);
    throw error;
  } finally {
    for (const w of watches) w.stop();
    if (keepLogsDir) {
      await mkdir(keepLogsDir, { recursive: true });
      for (const o of env.operators) await copyFile(o.logFile, join(keepLogsDir, `${o.identity}.log`)).catch(() => undefined);
      await copyFile(join(env.stateDir, 'fleet.log'), join(keepLogsDir, 'fleet.log')).catch(() => undefined);
    }
    log('stopping the operator(s), the fleet and the control plane');
    await env.stop();
  }
}

async function measure(env: ScaleEnv, options: ScaleOptions, log: (m: string) => void, watches: ObjectWatch[], loadAverage: Record<string, number>): Promise<ScaleResult> {
  const client = new KubeObjectClient(loadKubeConfig(env.controlPlane.adminKubeconfig), 'drover-bench');
  let leader = env.operators[0]!;
  const exited: string[] = [];
  const operatorPeak = peakSampler(leader.pid, 200);
  let overallPeak = 0;

  // --- watches -------------------------------------------------------------------
  const records = new Map<string, VmRecord>();
  const record = (name: string) => {
    let r = records.get(name);
    if (!r) records.set(name, (r = { name }));
    return r;
  };
  let hostLoss: { host: string; at: number } | undefined;
  watches.push(
    await ObjectWatch.start(client, Resources.VirtualMachine, NAMESPACE, (event: WatchEvent, at: number) => {
      const o = event.object;
      const r = record(o.metadata.name);
      if (event.type === 'DELETED') {
        r.goneAt ??= at;
        return;
      }
      r.object = o;
      const status = (o.status ?? {}) as { host?: string; phase?: string };
      r.host = status.host;
      r.phase = status.phase;
      if (status.phase === 'Running') {
        r.runningAt ??= at;
        if (hostLoss && at >= hostLoss.at && status.host && status.host !== hostLoss.host) r.restartedAt ??= at;
      }
    }),
  );
  const hostPhases = new Map<string, { phase?: string; heartbeatWrittenAt: number[] }>();
  watches.push(
    await ObjectWatch.start(client, Resources.Host, NAMESPACE, (event: WatchEvent, at: number) => {
      const o = event.object;
      let h = hostPhases.get(o.metadata.name);
      if (!h) hostPhases.set(o.metadata.name, (h = { heartbeatWrittenAt: [] }));
      const status = (o.status ?? {}) as { phase?: string };
      h.phase = status.phase;
      if (event.type === 'MODIFIED') h.heartbeatWrittenAt.push(at);
    }),
  );

  const checkOperator = () => {
    if (!isAlive(leader.pid)) throw new OperatorExited(leader);
  };
  const until = async (what: string, done: () => boolean, timeoutMs: number, progress: () => string, mustLive = true): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    let lastReport = Date.now();
    while (!done()) {
      if (mustLive) checkOperator();
      if (Date.now() > deadline) {
        log(`  gave up waiting for ${what} after ${Math.round(timeoutMs / 1000)} s (${progress()})`);
        return false;
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        log(`  … ${progress()}`);
      }
      await sleep(50);
    }
    return true;
  };
  // Polled every 100 ms during failover: a GET, not a kubectl process each time.
  const LEASE: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' };
  const leaseHolder = async (): Promise<string> => {
    const lease = await client.get(LEASE, 'drover-system', 'drover-operator').catch(() => undefined);
    return String((lease?.['spec'] as { holderIdentity?: string } | undefined)?.holderIdentity ?? '');
  };
  const procCpu = () => ({ fleet: cpuSeconds(env.fleetPid), apiserver: cpuSeconds(env.controlPlane.apiserverPid), etcd: cpuSeconds(env.controlPlane.etcdPid) });

  // --- cold start -------------------------------------------------------------------
  loadAverage['coldStart'] = round(loadavg()[0]!, 2);
  const names = Array.from({ length: options.vms }, (_, i) => `vm-${String(i + 1).padStart(5, '0')}`);
  const reqBefore = await scrapeRequests(env.controlPlane);
  const cpuBefore = cpuSeconds(leader.pid);
  const otherBefore = procCpu();
  const metricsBefore = await metricsOf(leader);
  const coldQueue = queueSampler(() => leader);
  log(`cold start: creating ${options.vms} VirtualMachines (${CREATE_CONCURRENCY} concurrent clients)`);
  const t0 = Date.now();
  const createFailures = await pool(names, CREATE_CONCURRENCY, async (name) => {
    record(name).sentAt = Date.now();
    await client.create(Resources.VirtualMachine, vmManifest(name));
  });
  if (createFailures > 0) throw new Error(`${createFailures} creates failed`);
  const created = Date.now();
  const runningCount = () => names.filter((n) => records.get(n)?.runningAt !== undefined).length;
  let coldDone = false;
  try {
    coldDone = await until('every VM Running', () => runningCount() === names.length, Math.max(900_000, options.vms * 450), () => `${runningCount()}/${names.length} Running after ${round((Date.now() - t0) / 1000)} s`);
  } catch (error) {
    // Recorded, not thrown: an operator that dies under the load is a result too.
    if (!(error instanceof OperatorExited)) throw error;
    exited.push(error.message);
    log(`cold start: ${error.message}`);
  }
  const allRunning = coldDone ? Math.max(...names.map((n) => records.get(n)!.runningAt!)) : null;
  const coldCpu = cpuSeconds(leader.pid) - cpuBefore;
  const otherAfter = procCpu();
  const coldQueueDepth = await coldQueue.stop();
  const reqCold = diffCounts(reqBefore, await scrapeRequests(env.controlPlane));
  const metricsCold = await metricsOf(leader);
  const coldPeak = operatorPeak.peak();
  const perHost = new Map<string, number>();
  for (const n of names) {
    const h = records.get(n)?.host;
    if (h) perHost.set(h, (perHost.get(h) ?? 0) + 1);
  }
  const benchRequests = options.vms + (reqCold.get('LIST virtualmachines') ?? 0) + (reqCold.get('LIST hosts') ?? 0) + (reqCold.get('WATCH virtualmachines') ?? 0) + (reqCold.get('WATCH hosts') ?? 0);
  const delta = (metric: string, label: string) => round(sumSamples(metricsCold, metric, label) - sumSamples(metricsBefore, metric, label), 2);
  loadAverage['coldStartEnd'] = round(loadavg()[0]!, 2);
  const coldStart: ScaleResult['coldStart'] = {
    createSeconds: round((created - t0) / 1000, 2),
    allRunningSeconds: allRunning === null ? null : round((allRunning - t0) / 1000, 2),
    running: runningCount(),
    applyToRunningMs: distribution(names.flatMap((n) => (records.get(n)?.runningAt ? [records.get(n)!.runningAt! - records.get(n)!.sentAt!] : []))),
    requests: sortedCounts(reqCold),
    operatorRequests: [...reqCold.values()].reduce((s, v) => s + v, 0) - benchRequests,
    operatorCpuSeconds: round(coldCpu, 2),
    operatorPeakRssMiB: round(coldPeak / 2 ** 20),
    operatorRssAfterMiB: round(rssBytes(leader.pid) / 2 ** 20),
    otherCpuSeconds: { fleet: round(otherAfter.fleet - otherBefore.fleet, 2), apiserver: round(otherAfter.apiserver - otherBefore.apiserver, 2), etcd: round(otherAfter.etcd - otherBefore.etcd, 2) },
    queueDepth: coldQueueDepth,
    reconcile: {
      vmReconciles: delta('controller_runtime_reconcile_total', 'controller="virtualmachine"'),
      vmReconcileErrors: delta('controller_runtime_reconcile_errors_total', 'controller="virtualmachine"'),
      vmReconcileSeconds: delta('controller_runtime_reconcile_time_seconds_sum', 'controller="virtualmachine"'),
      vmQueueWaitSeconds: delta('workqueue_queue_duration_seconds_sum', 'name="virtualmachine"'),
      hostReconciles: delta('controller_runtime_reconcile_total', 'controller="host"'),
      vmWorkers: sumSamples(metricsCold, 'controller_runtime_max_concurrent_reconciles', 'controller="virtualmachine"'),
    },
    placement: { hostsUsed: perHost.size, minPerHost: perHost.size ? Math.min(...perHost.values()) : 0, maxPerHost: perHost.size ? Math.max(...perHost.values()) : 0 },
  };
  log(`cold start: all ${options.vms} Running after ${coldStart.allRunningSeconds ?? '–'} s; operator ${coldStart.operatorCpuSeconds} CPU s, peak RSS ${coldStart.operatorPeakRssMiB} MiB`);
  const result: ScaleResult = {
    scenario: 'scale',
    setup: {
      hosts: options.hosts,
      vms: options.vms,
      latencyScale: options.latencyScale,
      heartbeatIntervalSeconds: options.heartbeatIntervalSeconds,
      operatorArgs: options.operatorArgs ?? [],
      scenarios: ['cold', ...options.scenarios.filter((s) => s !== 'cold')],
      vmSpec: VM_SPEC,
      cpuProfile: options.cpuProfileDir !== undefined,
    },
    loadAverage,
    coldStart,
    operator: { peakRssMiB: 0, errorLines: 0, exited },
    watchErrors: [],
    targets: SCALE_TARGETS,
  };
  if (!coldDone) return await finish();
  try {
    // --- steady state ------------------------------------------------------------------
    if (options.scenarios.includes('steady')) {
      // Let the last Running writes, Events and Manager summaries land first.
      await sleep(Math.max(10_000, options.heartbeatIntervalSeconds * 2000));
      loadAverage['steady'] = round(loadavg()[0]!, 2);
      log(`steady state: ${options.steadySeconds} s with nothing changing`);
      const before = await scrapeRequests(env.controlPlane);
      const cpu0 = cpuSeconds(leader.pid);
      const s0 = Date.now();
      await sleep(options.steadySeconds * 1000);
      checkOperator();
      const seconds = (Date.now() - s0) / 1000;
      const counts = diffCounts(before, await scrapeRequests(env.controlPlane));
      const verdict = steadyVerdict(counts, { seconds, hosts: options.hosts, heartbeatIntervalSeconds: options.heartbeatIntervalSeconds });
      result.steady = {
        seconds: round(seconds),
        writesPerMinute: writesPerMinute(counts, seconds),
        hostStatusWrites: verdict.hostStatusWrites,
        heartbeatBudget: verdict.budget,
        writesPerHostPerInterval: verdict.writesPerHostPerInterval,
        otherDroverWrites: verdict.otherDroverWrites,
        otherDroverWritesByKey: verdict.otherByKey,
        operatorCpuSeconds: round(cpuSeconds(leader.pid) - cpu0, 2),
        operatorRssMiB: round(rssBytes(leader.pid) / 2 ** 20),
      };
      log(`steady state: ${verdict.hostStatusWrites} Host status writes (budget ${verdict.budget}), ${verdict.otherDroverWrites} other Drover writes`);
    }

    // --- churn --------------------------------------------------------------------------
    if (options.scenarios.includes('churn')) {
      loadAverage['churn'] = round(loadavg()[0]!, 2);
      const schedule = churnSchedule(options.churnPerSecond, options.churnSeconds);
      const createNames = schedule.map((_, i) => `churn-${String(i + 1).padStart(5, '0')}`);
      const deleteNames = names.slice(0, schedule.length);
      log(`churn: ${options.churnPerSecond} creates and ${options.churnPerSecond} deletes per second for ${options.churnSeconds} s`);
      const before = await scrapeRequests(env.controlPlane);
      const cpu0 = cpuSeconds(leader.pid);
      const sampler = peakSampler(leader.pid, 200);
      const queue = queueSampler(() => leader);
      let createErrors = 0;
      let deleteErrors = 0;
      const inFlight: Promise<unknown>[] = [];
      const c0 = Date.now();
      for (let i = 0; i < schedule.length; i++) {
        const wait = c0 + schedule[i]! - Date.now();
        if (wait > 0) await sleep(wait);
        const name = createNames[i]!;
        record(name).sentAt = Date.now();
        inFlight.push(client.create(Resources.VirtualMachine, vmManifest(name)).catch(() => (createErrors += 1)));
        const victim = deleteNames[i] ? records.get(deleteNames[i]!) : undefined;
        if (victim?.object) {
          victim.deleteSentAt = Date.now();
          inFlight.push(client.deleteObject(Resources.VirtualMachine, victim.object).catch(() => (deleteErrors += 1)));
        }
      }
      await Promise.all(inFlight);
      const churnDone = () => createNames.every((n) => records.get(n)?.runningAt !== undefined) && deleteNames.every((n) => records.get(n)?.goneAt !== undefined);
      // A backlog is possible (the cold start's rate may be below the churn's): wait for it, within reason.
      await until('the churned VMs Running and the deleted ones gone', churnDone, Math.max(300_000, schedule.length * 500), () =>
        `${createNames.filter((n) => records.get(n)?.runningAt).length}/${createNames.length} created Running, ${deleteNames.filter((n) => records.get(n)?.goneAt).length}/${deleteNames.length} deleted gone`);
      const queueDepth = await queue.stop();
      const counts = diffCounts(before, await scrapeRequests(env.controlPlane));
      const made = createNames.map((n) => records.get(n)!);
      const gone = deleteNames.map((n) => records.get(n)!).filter((r) => r.deleteSentAt !== undefined);
      result.churn = {
        perSecond: options.churnPerSecond,
        seconds: options.churnSeconds,
        created: made.length,
        deleted: gone.length,
        createErrors,
        deleteErrors,
        applyToRunningMs: distribution(made.flatMap((r) => (r.runningAt ? [r.runningAt - r.sentAt!] : []))),
        notRunning: made.filter((r) => !r.runningAt).length,
        deleteToGoneMs: distribution(gone.flatMap((r) => (r.goneAt ? [r.goneAt - r.deleteSentAt!] : []))),
        notGone: gone.filter((r) => !r.goneAt).length,
        queueDepth,
        requests: sortedCounts(counts),
        operatorCpuSeconds: round(cpuSeconds(leader.pid) - cpu0, 2),
        operatorPeakRssMiB: round(sampler.stop() / 2 ** 20),
      };
      log(`churn: apply → Running p50 ${result.churn.applyToRunningMs.p50} ms, p95 ${result.churn.applyToRunningMs.p95} ms; max VM queue depth ${queueDepth['virtualmachine']?.max ?? '–'}`);
    }
    // The VMs there are now (the churn keeps their number).
    const current = () => [...records.values()].filter((r) => r.sentAt !== undefined && r.goneAt === undefined && r.deleteSentAt === undefined);

    // --- leader failover ----------------------------------------------------------------
    if (options.scenarios.includes('failover')) {
      loadAverage['failover'] = round(loadavg()[0]!, 2);
      log('leader failover: starting a second replica');
      const standby = await env.startOperator();
      await sleep(3000);
      const holder = await env.leaseHolder();
      if (holder !== leader.identity) throw new Error(`expected ${leader.identity} to lead, the Lease names ${holder}`);
      const vmsNow = current().length + 1;
      const cpuStandby0 = cpuSeconds(standby.pid);
      log(`leader failover: SIGKILL ${leader.identity} (pid ${leader.pid}), then create failover-probe`);
      overallPeak = Math.max(overallPeak, operatorPeak.stop());
      const k0 = Date.now();
      process.kill(leader.pid, 'SIGKILL');
      exited.push(`${leader.identity}: SIGKILL (leader failover)`);
      const probe = record('failover-probe');
      probe.sentAt = Date.now();
      await client.create(Resources.VirtualMachine, vmManifest('failover-probe'));
      const killed = leader;
      leader = standby;
      const newPeak = peakSampler(standby.pid, 200);
      let leaseTaken: number | undefined;
      let allReconciled: number | undefined;
      let heartbeatsResumed: number | undefined;
      let lastScrape = 0;
      const hostsAlive = [...hostPhases.keys()];
      const deadline = k0 + options.failoverTimeoutSeconds * 1000;
      while (Date.now() < deadline && (leaseTaken === undefined || allReconciled === undefined || heartbeatsResumed === undefined || probe.runningAt === undefined)) {
        checkOperator();
        if (leaseTaken === undefined && (await leaseHolder()) === standby.identity) leaseTaken = Date.now();
        // The new leader's /metrics at most once a second: a scrape renders every VM's series, and at
        // 10 a second the scrapes were a fifth of the catch-up's CPU (the measurement slowing what it measures).
        if (leaseTaken !== undefined && allReconciled === undefined && Date.now() - lastScrape >= 1000) {
          lastScrape = Date.now();
          const text = await metricsOf(standby);
          // Successful passes only: a pass that asks to come back later (a host link still forming) has not caught up.
          const reconciled = sumSamples(text, 'controller_runtime_reconcile_total', 'controller="virtualmachine",result="success"');
          const depth = samplesByLabel(text, 'workqueue_depth', 'name')['virtualmachine'] ?? 0;
          if (reconciled >= vmsNow && depth === 0) allReconciled = Date.now();
        }
        if (leaseTaken !== undefined && heartbeatsResumed === undefined) {
          // Each Host's first status write (its heartbeat) by the new leader.
          const firsts = hostsAlive.map((h) => hostPhases.get(h)!.heartbeatWrittenAt.find((t) => t > leaseTaken!));
          if (firsts.every((t) => t !== undefined)) heartbeatsResumed = Math.max(...(firsts as number[]));
        }
        await sleep(100);
      }
      const s = (t: number | undefined) => (t === undefined ? null : round((t - k0) / 1000, 2));
      const parts = [leaseTaken, probe.runningAt, allReconciled, heartbeatsResumed];
      result.failover = {
        vms: vmsNow,
        killedLeader: killed.identity,
        newLeader: leaseTaken ? standby.identity : null,
        leaseTakenSeconds: s(leaseTaken),
        probeRunningSeconds: s(probe.runningAt),
        allReconciledSeconds: s(allReconciled),
        heartbeatsResumedSeconds: s(heartbeatsResumed),
        caughtUpSeconds: parts.every((t) => t !== undefined) ? s(Math.max(...(parts as number[]))) : null,
        timeoutSeconds: options.failoverTimeoutSeconds,
        newLeaderCpuSeconds: round(cpuSeconds(standby.pid) - cpuStandby0, 2),
        newLeaderRssMiB: round(newPeak.peak() / 2 ** 20),
        settings: leaseSettings(options.operatorArgs),
      };
      overallPeak = Math.max(overallPeak, newPeak.stop());
      log(`leader failover: Lease taken after ${result.failover.leaseTakenSeconds ?? '–'} s, caught up after ${result.failover.caughtUpSeconds ?? '–'} s`);
    } else {
      overallPeak = Math.max(overallPeak, operatorPeak.stop());
    }

    // --- host loss ----------------------------------------------------------------------
    if (options.scenarios.includes('hostloss')) {
      loadAverage['hostLoss'] = round(loadavg()[0]!, 2);
      const byHost = new Map<string, VmRecord[]>();
      for (const r of current()) if (r.host && r.phase === 'Running') byHost.set(r.host, [...(byHost.get(r.host) ?? []), r]);
      const [host, victims] = [...byHost].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0] ?? ['', []];
      if (!host) throw new Error('no host runs VMs');
      log(`host loss: ${host} dies with ${victims.length} VMs`);
      const peak = peakSampler(leader.pid, 200);
      const at = await env.powerOff(host);
      hostLoss = { host, at };
      let nonResponsiveAt: number | undefined;
      const restartedCount = () => victims.filter((r) => r.restartedAt !== undefined).length;
      await until(`${host}'s VMs Running elsewhere`, () => {
        if (nonResponsiveAt === undefined && hostPhases.get(host)?.phase === 'NonResponsive') nonResponsiveAt = Date.now();
        return restartedCount() === victims.length;
      }, options.hostLossTimeoutSeconds * 1000, () => `${restartedCount()}/${victims.length} restarted; ${host} ${hostPhases.get(host)?.phase ?? '?'}`);
      const endState: Record<string, number> = {};
      const conditions: Record<string, number> = {};
      for (const r of victims) {
        const st = (r.object?.status ?? {}) as { phase?: string; host?: string; conditions?: { type: string; status: string; reason?: string }[] };
        const key = `${st.phase ?? '–'} on ${st.host === host ? 'the lost host' : st.host ? 'another host' : 'no host'}`;
        endState[key] = (endState[key] ?? 0) + 1;
        for (const c of st.conditions ?? []) {
          if (c.status !== 'True' || c.type === 'Ready') continue;
          const ck = `${c.type}${c.reason ? `/${c.reason}` : ''}`;
          conditions[ck] = (conditions[ck] ?? 0) + 1;
        }
      }
      const restarted = victims.filter((r) => r.restartedAt !== undefined);
      result.hostLoss = {
        host,
        vmsOnHost: victims.length,
        restarted: restarted.length,
        allRestartedSeconds: restarted.length === victims.length ? round((Math.max(...restarted.map((r) => r.restartedAt!)) - at) / 1000, 2) : null,
        restartMs: distribution(restarted.map((r) => r.restartedAt! - at)),
        hostNonResponsiveSeconds: nonResponsiveAt === undefined ? null : round((nonResponsiveAt - at) / 1000, 2),
        timeoutSeconds: options.hostLossTimeoutSeconds,
        endState,
        conditions,
      };
      overallPeak = Math.max(overallPeak, peak.stop());
      log(`host loss: ${restarted.length}/${victims.length} restarted elsewhere${result.hostLoss.allRestartedSeconds !== null ? ` after ${result.hostLoss.allRestartedSeconds} s` : ` within ${options.hostLossTimeoutSeconds} s`}`);
    }
  } catch (error) {
    if (!(error instanceof OperatorExited)) throw error;
    exited.push(error.message);
    log(error.message);
  }
  return await finish();

  async function finish(): Promise<ScaleResult> {
    overallPeak = Math.max(overallPeak, operatorPeak.stop());
    result.operator.peakRssMiB = round(overallPeak / 2 ** 20);
    for (const o of env.operators) {
      const lines = await readJsonLog(o.logFile).catch(() => []);
      result.operator.errorLines += lines.filter((l) => l.fields['level'] === 'error' || l.fields['level'] === 'warn' || l.fields['level'] === 50 || l.fields['level'] === 40).length;
    }
    result.watchErrors = watches.flatMap((w) => w.errors);
    return result;
  }
}
