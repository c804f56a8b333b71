/**
 * Benchmark (issue 6): the node running the self-hosted Manager VM dies →
 * the Manager healthy again (its health URL answers), with the DEFAULT
 * hosted-engine timings (metadata 2 s, host alive 10 s, bad health 30 s).
 *
 * Two test hosts, each with `drover agent --hosted-engine` (the real HA
 * role, no operator), the tiny guest deployed as the Manager VM with
 * `drover hosted-engine deploy`. Each run: wait until the Manager is healthy
 * on one node and the other is a live standby, kill the running node as a
 * power loss (agent, libvirt daemons and QEMU SIGKILLed, its NIC down), time
 * until the other node's libvirt runs it and until it answers its health
 * URL; then power the node on again. The invariant sampler asks every host's
 * libvirt and QEMU processes about 4 times a second through every run.
 */
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { killHost, powerOn, type Testbed } from '../dev/testbed/index.js';
import { startDevHosts, stopDevHosts } from '../dev/hosts.js';
import { waitForAgent } from '../dev/environment.js';
import { deployTestbedEngine, engineHealthy, engineRunningOn, testbedEngineAddress } from '../dev/hosted-engine.js';
import { DEFAULT_TIMINGS, readStatus, type HostedEngineTimings } from '../agent/hosted-engine/index.js';
import { watchDoubleRuns } from './double-runs.js';
import { percentile } from './procstat.js';

/** Options of {@link runHostedEngineBench}. */
export interface HostedEngineBenchOptions {
  /** Runs (≥ 5 for the report). */
  runs: number;
}

/** One run's figures. */
export interface HostedEngineRun {
  from: string;
  to: string;
  /** Node killed → the other node's libvirt runs the Manager VM, ms. */
  runningMs: number;
  /** Node killed → the health URL answers again, ms. */
  healthyMs: number;
}

/** The stored result. */
export interface HostedEngineBenchResult {
  setup: { hosts: number; runs: number; guest: string };
  timings: HostedEngineTimings;
  runs: HostedEngineRun[];
  p50Ms: number;
  maxMs: number;
  runningP50Ms: number;
  invariantSamples: number;
  doubleRuns: number;
  targetMs: number;
  loadAverage: { atStart: number; atEnd: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (n: number) => Math.round(n * 100) / 100;

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}


/** Runs the benchmark on a fresh two-node test bed. */
export async function runHostedEngineBench(repoRoot: string, options: HostedEngineBenchOptions, log: (m: string) => void): Promise<HostedEngineBenchResult> {
  const stateDir = join(repoRoot, '.drover', 'bench-he');
  const sharedDir = join(stateDir, 'shared');
  const heDir = join(sharedDir, 'hosted-engine');
  await stopDevHosts(stateDir);
  // A fresh hosted-engine storage domain: the shared directory outlives runs.
  await rm(join(heDir, 'hosted-engine'), { recursive: true, force: true });
  const hosts = await startDevHosts(repoRoot, { stateDir, hosts: 2, sharedDir, subnet: '10.247.102.0/24', namePrefix: 'bhe', agentArgs: [`--hosted-engine=${heDir}`] });
  const tb = hosts.testbed;
  const runs: HostedEngineRun[] = [];
  let invariant = { samples: 0, doubleRuns: 0 };
  const atStart = round2(loadavg()[0]!);
  try {
    for (const a of hosts.agents) await waitForAgent(hosts, a.ip, a.port);
    await deployTestbedEngine(repoRoot, tb, heDir, tb.hosts[0]!);
    const { healthURL } = testbedEngineAddress(tb);
    log(`hosted-engine: deployed on ${tb.hosts[0]!.name}, default timings ${JSON.stringify(DEFAULT_TIMINGS)}; load ${atStart}`);
    const watch = watchDoubleRuns(tb);
    try {
      for (let i = 0; i < options.runs; i++) {
        // Steady state first: healthy on one node, the other a live standby that knows it.
        const from = await waitFor('the Manager healthy with a live standby', 240_000, async () => {
          if (!(await engineHealthy(healthURL))) return undefined;
          const on = await engineRunningOn(tb.hosts);
          if (on.length !== 1) return undefined;
          const s = await readStatus(heDir);
          const ready = s.engineHost === on[0] && s.nodes.length === 2 && s.nodes.every((n) => n.live && (n.name === on[0] || n.state === 'EngineDownElsewhere'));
          return ready ? on[0] : undefined;
        }, 500);
        const to = tb.hosts.find((h) => h.name !== from)!;
        const killedAt = Date.now();
        await killHost(tb, from);
        let runningMs: number | undefined;
        await waitFor('the Manager healthy on the other node', 300_000, async () => {
          if (runningMs === undefined && (await engineRunningOn([to])).length === 1) runningMs = Date.now() - killedAt;
          return runningMs !== undefined && (await engineHealthy(healthURL)) ? true : undefined;
        }, 200);
        const healthyMs = Date.now() - killedAt;
        runs.push({ from, to: to.name, runningMs: runningMs!, healthyMs });
        log(`run ${i + 1}: ${from} killed → Manager VM running on ${to.name} after ${runningMs} ms, healthy after ${healthyMs} ms`);
        await powerOn(tb, from);
      }
    } finally {
      invariant = await watch.stop();
    }
  } finally {
    await stopDevHosts(stateDir);
  }
  const healthy = runs.map((r) => r.healthyMs);
  return {
    setup: { hosts: 2, runs: options.runs, guest: 'tiny Linux guest (TCG, 128 MiB) serving /healthz' },
    timings: DEFAULT_TIMINGS,
    runs,
    p50Ms: percentile(healthy, 50),
    maxMs: Math.max(...healthy),
    runningP50Ms: percentile(runs.map((r) => r.runningMs), 50),
    invariantSamples: invariant.samples,
    doubleRuns: invariant.doubleRuns,
    targetMs: 60_000,
    loadAverage: { atStart, atEnd: round2(loadavg()[0]!) },
  };
}
