/**
 * Benchmark (issue 5): host death → its HA VM Running on another host, with
 * the Manager's DEFAULT timings (heartbeat 5 s, lease failover after 10 s,
 * fencing grace 300 s — so the storage lease is the proof, not fencing).
 *
 * Each run: an HA guest VM pinned to one host (the pin is then dropped), the
 * host killed as a power loss (agent, libvirt daemons and QEMU SIGKILLed, its
 * NIC down), the time until the VM is Running on the other host; then the
 * host is powered on again and the VM deleted. The invariant sampler asks
 * every host's libvirt and QEMU processes about 4 times a second through
 * every run and counts VMs seen running twice.
 */
import { guestAddress, killHost, powerOn } from '../dev/testbed/index.js';
import { guestVmManifest } from '../dev/guest-vm.js';
import { startBenchEnv, type BenchEnv } from './burst-env.js';
import { watchDoubleRuns } from './double-runs.js';
import { percentile } from './procstat.js';

/** Options of {@link runHaFailover}. */
export interface HaFailoverOptions {
  /** Runs (≥ 5 for the report). */
  runs: number;
}

/** One run's figures. */
export interface HaFailoverRun {
  from: string;
  to: string;
  /** Host killed → VM Running on the other host, ms. */
  failoverMs: number;
  /** status.failover.proof the operator recorded, when seen. */
  proof?: string;
}

/** The stored result. */
export interface HaFailoverResult {
  setup: { hosts: number; availability: string; runs: number };
  runs: HaFailoverRun[];
  p50Ms: number;
  maxMs: number;
  /** Samples taken by the invariant sampler, and VMs it saw running on two hosts at once. */
  invariantSamples: number;
  doubleRuns: number;
  targetMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls an object until `predicate` holds. Not env.waitFor: that one fails as
 * soon as a watched agent exits, and here agents die on purpose.
 */
async function poll(env: BenchEnv, kind: string, name: string, predicate: (o: { status?: Record<string, unknown> }) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const o = await env.get(kind, name).catch(() => undefined);
    if (o && predicate(o as { status?: Record<string, unknown> })) return;
    if (Date.now() > deadline) throw new Error(`${kind}/${name} not as expected within ${timeoutMs} ms; last status ${JSON.stringify(o?.status ?? {})}`);
    await sleep(200);
  }
}


/** Runs the benchmark on a fresh two-host environment. */
export async function runHaFailover(repoRoot: string, options: HaFailoverOptions, log: (m: string) => void): Promise<HaFailoverResult> {
  const env = await startBenchEnv(
    repoRoot,
    { stateDir: `${repoRoot}/.drover/bench-ha`, namePrefix: 'bha', subnet: '10.247.98.0/24', namespace: 'bench-ha', hosts: 2 },
    log,
  );
  const watch = watchDoubleRuns(env.testbed);
  const runs: HaFailoverRun[] = [];
  let invariant = { samples: 0, doubleRuns: 0 };
  try {
    for (const h of env.hostNames) await env.kubectl(['label', 'host', h, '-n', env.namespace, `drover.bench/host=${h}`, '--overwrite']);
    for (let i = 0; i < options.runs; i++) {
      const fromIndex = i % 2;
      const from = env.hostNames[fromIndex]!;
      const to = env.hostNames[1 - fromIndex]!;
      const name = `hafail-${i + 1}`;
      const vm = guestVmManifest(env.namespace, name, guestAddress(env.testbed.subnet, 10 + i), env.testbed.subnet.prefixLength, env.testbed.subnet.gateway, {
        highAvailability: { enabled: true },
        placement: { hostSelector: { matchLabels: { 'drover.bench/host': from } } },
      });
      await env.apply([vm]);
      await poll(env, 'virtualmachine', name, (o) => o.status?.['phase'] === 'Running' && o.status?.['host'] === from, 180_000);
      await env.kubectl(['patch', 'virtualmachine', name, '-n', env.namespace, '--type=json', '-p', '[{"op":"remove","path":"/spec/placement"}]']);
      await sleep(2000);
      const killedAt = Date.now();
      await killHost(env.testbed, env.testbed.hosts[fromIndex]!.name);
      let proof: string | undefined;
      await poll(
        env,
        'virtualmachine',
        name,
        (o) => {
          const s = o.status as { phase?: string; host?: string; failover?: { proof?: string } } | undefined;
          if (s?.failover?.proof) proof = s.failover.proof;
          return s?.phase === 'Running' && s.host === to;
        },
        300_000,
      );
      const failoverMs = Date.now() - killedAt;
      runs.push({ from, to, failoverMs, ...(proof ? { proof } : {}) });
      log(`run ${i + 1}: ${from} killed → ${name} Running on ${to} after ${failoverMs} ms`);
      await powerOn(env.testbed, env.testbed.hosts[fromIndex]!.name);
      await poll(env, 'host', from, (o) => o.status?.['phase'] === 'Up', 180_000);
      await env.kubectl(['delete', 'virtualmachine', name, '-n', env.namespace, '--wait=true', '--timeout=180s']);
    }
  } finally {
    invariant = await watch.stop();
    await env.stop();
  }
  const sorted = runs.map((r) => r.failoverMs).sort((a, b) => a - b);
  return {
      setup: { hosts: 2, availability: 'Manager defaults (heartbeat 5 s, NonResponsive 60 s, lease failover 10 s, fencing grace 300 s)', runs: options.runs },
      runs,
      p50Ms: percentile(sorted, 50),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    invariantSamples: invariant.samples,
    doubleRuns: invariant.doubleRuns,
    targetMs: 30_000,
  };
}
