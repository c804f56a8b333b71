/**
 * Agent benchmark on the test bed: real agents, libvirt and QEMU (TCG).
 * define+start → running, destroy, graceful stop of a booted guest, list and
 * host stats calls (p50/p95), live migration of the tiny guest, and agent RSS
 * idle and with 20 VMs running.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AgentClient } from '../agent/client/index.js';
import type { VmSpecInput } from '../api/agent/index.js';
import { waitForAgent } from '../dev/environment.js';
import { startDevHosts, stopDevHosts } from '../dev/hosts.js';
import { hostExec } from '../dev/testbed/index.js';
import { sleep, waitFor } from '../dev/exec.js';
import { percentile, rssBytes } from './procstat.js';

/** Result figures. */
export interface AgentPrimitivesResult {
  scenario: 'agent-primitives';
  acceleration: string;
  defineStartMs: { p50: number; p95: number; n: number };
  destroyMs: { p50: number; p95: number; n: number };
  gracefulStopMs: { p50: number; p95: number; n: number };
  listMs: { p50: number; p95: number; n: number };
  statsMs: { p50: number; p95: number; n: number };
  migrationMs: { p50: number; p95: number; n: number };
  agentIdleRssMiB: number;
  agentRssWith20VmsMiB: number;
  targets: { defineStartP50Ms: number; listStatsMs: number; migrationMs: number; idleRssMiB: number };
}

const SUBNET = '10.247.86.0/24';

function summary(values: number[]) {
  const r = (v: number) => Math.round(v * 10) / 10;
  return { p50: r(percentile(values, 50)), p95: r(percentile(values, 95)), n: values.length };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

/** Runs the scenario in `<repo>/.drover/bench-agent`. */
export async function runAgentPrimitives(repoRoot: string, log: (m: string) => void, vms = 20): Promise<AgentPrimitivesResult> {
  const stateDir = join(repoRoot, '.drover', 'bench-agent');
  const sharedDir = join(stateDir, 'shared');
  await stopDevHosts(stateDir);
  const hosts = await startDevHosts(repoRoot, { stateDir, hosts: 2, sharedDir, subnet: SUBNET, namePrefix: 'bch' });
  const tls = {
    ca: await import('node:fs').then((fs) => fs.readFileSync(hosts.pki.caCert)),
    cert: await import('node:fs').then((fs) => fs.readFileSync(hosts.pki.operatorCert)),
    key: await import('node:fs').then((fs) => fs.readFileSync(hosts.pki.operatorKey)),
  };
  const clients = hosts.agents.map((a) => new AgentClient({ host: a.ip, port: a.port, tls }));
  try {
    for (const a of hosts.agents) await waitForAgent(hosts, a.ip, a.port);
    const [c1, c2] = clients as [AgentClient, AgentClient];
    for (const c of clients) {
      await c.connectStorageDomain('images', { type: 'PosixFS', path: join(sharedDir, 'images') });
    }
    await sleep(3000);
    const agentPid = hosts.agents[0]!.pid;
    const idleRss = rssBytes(agentPid);
    // Firmware-only VMs (no kernel, no disk: SeaBIOS finds nothing to boot and
    // idles) measure the agent and libvirt, not 20 Linux boots competing for
    // two cores under TCG. One booted Linux guest serves stop and migration.
    const firmwareOnly = (i: number): VmSpecInput => ({
      name: `bench_fw-${i}`,
      owner: { namespace: 'bench', name: `fw-${i}` },
      generation: 1,
      cpu: { cores: 1 },
      memoryMiB: 64,
      acceleration: 'tcg',
      disks: [],
      nics: [{ name: 'mgmt', bridge: 'br0', mac: `52:54:00:86:01:${(i + 16).toString(16).padStart(2, '0')}` }],
    });
    const guestSpec: VmSpecInput = {
      name: 'bench_guest',
      owner: { namespace: 'bench', name: 'guest' },
      generation: 1,
      cpu: { cores: 1 },
      memoryMiB: 96,
      acceleration: 'tcg',
      boot: { domain: 'images', kernel: 'guest/vmlinuz', initrd: 'guest/initrd.img', cmdline: 'console=ttyS0 drover.ip=10.247.86.100/24 drover.name=guest' },
      disks: [],
      nics: [{ name: 'mgmt', bridge: 'br0', mac: '52:54:00:86:00:10' }],
    };
    log(`define+start ${vms} firmware-only VMs on one host`);
    const uids: string[] = [];
    const defineStart: number[] = [];
    for (let i = 0; i < vms; i += 1) {
      const uid = randomUUID();
      uids.push(uid);
      const [, ms] = await timed(async () => {
        await c1.defineVm(uid, firmwareOnly(i));
        await c1.startVm(uid);
      });
      defineStart.push(ms);
    }
    await sleep(3000);
    const list: number[] = [];
    const stats: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      list.push((await timed(() => c1.listVms()))[1]);
      stats.push((await timed(() => c1.stats()))[1]);
    }
    const rssWithVms = rssBytes(agentPid);
    const destroy: number[] = [];
    for (const uid of uids) destroy.push((await timed(() => c1.destroyVm(uid)))[1]);

    log('booting one Linux guest: graceful stops and migrations');
    const guestUid = randomUUID();
    await c1.defineVm(guestUid, guestSpec);
    const answers = (index: number) => async () =>
      (await hostExec(hosts.testbed.hosts[index]!, ['wget', '-qO-', '-T', '2', 'http://10.247.86.100/healthz'], { check: false })).code === 0 ? true : undefined;
    const graceful: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      await c1.startVm(guestUid);
      await waitFor('the guest to answer', answers(1), 120_000, 500);
      graceful.push((await timed(() => c1.stopVm(guestUid, { timeoutSeconds: 60 })))[1]);
    }
    await c1.startVm(guestUid);
    await waitFor('the guest to answer', answers(1), 120_000, 500);
    const migration: number[] = [];
    const clientsByHost = [c1, c2];
    for (let round = 0; round < 4; round += 1) {
      const from = clientsByHost[round % 2]!;
      const to = hosts.testbed.hosts[(round + 1) % 2]!;
      const [, ms] = await timed(async () => {
        await from.migrateVm(guestUid, { destinationURI: to.libvirtUri });
        await waitFor('migration', async () => {
          const m = await from.getMigration(guestUid);
          if (m.state === 'failed') throw new Error(`migration failed: ${m.error ?? ''}`);
          return m.state === 'succeeded' ? true : undefined;
        }, 120_000, 50);
      });
      migration.push(ms);
    }

    return {
      scenario: 'agent-primitives',
      acceleration: 'tcg',
      defineStartMs: summary(defineStart),
      destroyMs: summary(destroy),
      gracefulStopMs: summary(graceful),
      listMs: summary(list),
      statsMs: summary(stats),
      migrationMs: summary(migration),
      agentIdleRssMiB: Math.round((idleRss / 2 ** 20) * 10) / 10,
      agentRssWith20VmsMiB: Math.round((rssWithVms / 2 ** 20) * 10) / 10,
      targets: { defineStartP50Ms: 500, listStatsMs: 20, migrationMs: 3000, idleRssMiB: 80 },
    };
  } finally {
    for (const c of clients) c.close();
    await stopDevHosts(stateDir);
  }
}
