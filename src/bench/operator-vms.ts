/**
 * Foundation benchmark: N VirtualMachines (default 1,000) created at once in
 * one namespace with no hosts. Measures time until every status is written,
 * API requests by verb, operator CPU and peak RSS, then idle RSS and writes
 * per minute once converged (target: none but the Lease renewals).
 */
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { loadKubeConfig } from '../kube/config.js';
import { KubeObjectClient } from '../kube/client.js';
import { Resources } from '../operator/resources.js';
import { startControlPlane, stopControlPlane } from '../dev/controlplane.js';
import { installDeploy, kubectlAdmin, operatorKubeconfig, startOperatorProcess } from '../dev/environment.js';
import { sleep, stopProcess, waitFor } from '../dev/exec.js';
import { diffCounts, scrapeRequests, writes } from './apiserver-metrics.js';
import { cpuSeconds, peakSampler, rssBytes } from './procstat.js';

/** Options of the scenario. */
export interface OperatorVmsOptions {
  vms: number;
  idleSeconds: number;
  createConcurrency: number;
}

/** Result figures (JSON-serialisable). */
export interface OperatorVmsResult {
  scenario: string;
  vms: number;
  createSeconds: number;
  convergedSeconds: number;
  requestsByVerb: Record<string, number>;
  operatorRequests: number;
  operatorCpuSeconds: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  idleRssMiB: number;
  idleHeapUsedMiB: number;
  idleHeapTotalMiB: number;
  idleSeconds: number;
  idleWritesPerMinute: number;
  idleLeaseWritesPerMinute: number;
  idleRequests: Record<string, number>;
  targets: { convergedSeconds: number; idleRssMiB: number; idleWritesPerMinute: number };
}

/** Runs the scenario on a fresh control plane in `<repo>/.drover/bench`. */
export async function runOperatorVms(repoRoot: string, options: OperatorVmsOptions, log: (m: string) => void): Promise<OperatorVmsResult> {
  const stateDir = join(repoRoot, '.drover', 'bench');
  await stopControlPlane(stateDir);
  await rm(stateDir, { recursive: true, force: true });
  await mkdir(stateDir, { recursive: true });
  const state = await startControlPlane(repoRoot, stateDir, log);
  try {
    await installDeploy(repoRoot, state);
    const kubeconfig = await operatorKubeconfig(state, join(stateDir, 'operator.kubeconfig'));
    const operator = await startOperatorProcess(repoRoot, kubeconfig, join(stateDir, 'operator.log'));
    try {
      await waitFor('the operator to lead', async () => {
        const { stdout } = await kubectlAdmin(state, ['get', 'lease', 'drover-operator', '-n', 'drover-system', '-o', 'jsonpath={.spec.holderIdentity}']).catch(() => ({ stdout: '' }));
        return stdout.trim() ? true : undefined;
      }, 60_000, 200);
      await kubectlAdmin(state, ['create', 'namespace', 'bench']);
      await sleep(5000);
      const baselineRss = rssBytes(operator.pid);
      const client = new KubeObjectClient(loadKubeConfig(state.adminKubeconfig), 'drover-bench');
      const before = await scrapeRequests(state);
      const cpuBefore = cpuSeconds(operator.pid);
      const sampler = peakSampler(operator.pid);
      const start = Date.now();
      log(`creating ${options.vms} VirtualMachines`);
      let next = 0;
      const createOne = async (i: number) =>
        client.create(Resources.VirtualMachine, {
          apiVersion: 'drover.io/v1alpha1',
          kind: 'VirtualMachine',
          metadata: { name: `vm-${String(i).padStart(5, '0')}`, namespace: 'bench' },
          spec: { cpu: { cores: 1 }, memory: '256Mi', disks: [{ name: 'root', storageDomain: 'data', size: '10Gi', bootOrder: 1 }] },
        });
      await Promise.all(
        Array.from({ length: options.createConcurrency }, async () => {
          while (next < options.vms) await createOne(next++);
        }),
      );
      const created = Date.now();
      await waitFor('every VM status to be written', async () => {
        const { items } = await client.list(Resources.VirtualMachine, 'bench');
        const done = items.filter((o) => (o.status as { observedGeneration?: number } | undefined)?.observedGeneration === o.metadata.generation);
        return done.length >= options.vms ? true : undefined;
      }, 600_000, 250);
      const converged = Date.now();
      const peak = sampler.stop();
      const cpu = cpuSeconds(operator.pid) - cpuBefore;
      const afterConverge = await scrapeRequests(state);
      log(`converged in ${((converged - start) / 1000).toFixed(2)} s; measuring ${options.idleSeconds} s idle`);
      await sleep(5000);
      const idleStart = await scrapeRequests(state);
      await sleep(options.idleSeconds * 1000);
      const idleEnd = await scrapeRequests(state);
      const idleRss = rssBytes(operator.pid);
      const opMetrics = await (await fetch(`http://127.0.0.1:${operator.healthPort}/metrics`)).text();
      const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(opMetrics)?.[1] ?? NaN);
      const heapUsedMiB = Math.round((metric('nodejs_heap_size_used_bytes') / 2 ** 20) * 10) / 10;
      const heapTotalMiB = Math.round((metric('nodejs_heap_size_total_bytes') / 2 ** 20) * 10) / 10;
      const idle = diffCounts(idleStart, idleEnd);
      const converge = diffCounts(before, afterConverge);
      const perMinute = (n: number) => Math.round((n * 60) / options.idleSeconds * 10) / 10;
      // The bench's own creates and lists are subtracted: what remains is the operator's.
      const requestsByVerb = Object.fromEntries([...converge].sort(([a], [b]) => a.localeCompare(b)));
      const benchRequests = options.vms + [...converge].filter(([k]) => k === 'LIST virtualmachines').reduce((s, [, v]) => s + v, 0);
      const total = [...converge.values()].reduce((s, v) => s + v, 0);
      return {
        scenario: 'operator-1000-vms',
        vms: options.vms,
        createSeconds: (created - start) / 1000,
        convergedSeconds: (converged - start) / 1000,
        requestsByVerb,
        operatorRequests: total - benchRequests,
        operatorCpuSeconds: Math.round(cpu * 100) / 100,
        baselineRssMiB: Math.round((baselineRss / 2 ** 20) * 10) / 10,
        peakRssMiB: Math.round((peak / 2 ** 20) * 10) / 10,
        idleRssMiB: Math.round((idleRss / 2 ** 20) * 10) / 10,
        idleHeapUsedMiB: heapUsedMiB,
        idleHeapTotalMiB: heapTotalMiB,
        idleSeconds: options.idleSeconds,
        // Only the operator's kinds of writes: the API server itself refreshes its endpoints every 10 s.
        idleWritesPerMinute: perMinute(writes(idle, (k) => /(managers|hosts|storagedomains|virtualmachines|virtualmachinemigrations|events)(\/|$)/.test(k))),
        idleRequests: Object.fromEntries(idle),
        idleLeaseWritesPerMinute: perMinute(writes(idle, (k) => k.endsWith(' leases'))),
        targets: { convergedSeconds: 20, idleRssMiB: 120, idleWritesPerMinute: 0 },
      };
    } finally {
      await stopProcess(operator.pid);
    }
  } finally {
    await stopControlPlane(stateDir);
  }
}
