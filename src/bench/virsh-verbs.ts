/**
 * Micro-benchmark of the agent's define and start on one real test host
 * (libvirt + QEMU under TCG): a firmware-only guest (no kernel, no disk, 64
 * MiB), so the figures are the agent, virsh and libvirtd, not a Linux boot.
 *
 * For each layer — plain `virsh` processes, the LibvirtDriver verbs, and the
 * agent's VmService verbs (which read the domain before and after) — it
 * reports the median wall time and the CPU time spent by virsh (our child
 * processes), by the host's libvirtd and by the whole machine, per verb, and
 * for the driver's start the CPU per process name (QEMU, libvirtd...): with
 * nothing else running, the machine figure is what one start costs, the
 * floor under any burst of starts on this many cores.
 *
 * Usage: `node dist/bench/virsh-verbs.js [--rounds N] [--domains N] [--keep]`;
 * `--domains` first defines that many other (shut off) domains, as on a
 * host with VMs, where a define checks its name against all of them. Brings up
 * (and takes down again) a one-host test bed with prefix `vrb` in
 * `<repo>/.drover/bench-virsh-verbs`. Figures are printed as JSON, never
 * asserted.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { FileStorageManager } from '../agent/storage/index.js';
import { VmService } from '../agent/vms/index.js';
import { vmSpec, type VmSpecInput } from '../api/agent/index.js';
import { down, runChecked, up, type TestbedHost } from '../dev/testbed/index.js';
import { buildDomainXml } from '../hypervisor/domainxml/index.js';
import { CachedListDriver } from '../hypervisor/cached-list.js';
import { LibvirtDriver } from '../hypervisor/libvirt/index.js';
import { cpuSeconds, percentile } from './procstat.js';

const TICKS = 100;

/** CPU seconds of this process's reaped children plus its live `virsh` children. */
function virshCpuSeconds(): number {
  const self = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // cutime, cstime: fields 16 and 17 (index 13, 14 from the state field).
  let total = (Number(self[13]) + Number(self[14])) / TICKS;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      if (comm === 'virsh' && Number(fields[1]) === process.pid) total += (Number(fields[11]) + Number(fields[12])) / TICKS;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

interface Sample {
  ms: number;
  virshCpuMs: number;
  libvirtdCpuMs: number;
  /** Busy CPU of the whole machine meanwhile: with nothing else running, what the verb costs everything (QEMU included). */
  machineCpuMs: number;
  /** CPU ms per process name meanwhile (QEMU, libvirtd, virtlogd...). */
  byCommand: Map<string, number>;
}

/** Busy CPU seconds of the whole machine since boot (/proc/stat: all but idle and iowait). */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / TICKS;
}

/** CPU seconds (own + reaped children) of every live process, by pid, with its command name. */
function processCpu(): Map<string, { comm: string; seconds: number }> {
  const out = new Map<string, { comm: string; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / TICKS;
      out.set(entry, { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU ms per command name between two {@link processCpu} snapshots (processes alive at the second). */
function cpuByCommand(before: ReturnType<typeof processCpu>, after: ReturnType<typeof processCpu>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [pid, p] of after) {
    const delta = p.seconds - (before.get(pid)?.seconds ?? 0);
    if (delta > 0) out.set(p.comm, (out.get(p.comm) ?? 0) + delta * 1000);
  }
  return out;
}

/** Runs `fn` and measures its wall time and the CPU it cost virsh and libvirtd. */
async function measure(libvirtdPid: number, fn: () => Promise<unknown>): Promise<Sample> {
  const v0 = virshCpuSeconds();
  const l0 = cpuSeconds(libvirtdPid);
  const m0 = machineBusySeconds();
  const p0 = processCpu();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  return {
    ms,
    byCommand: cpuByCommand(p0, processCpu()),
    virshCpuMs: (virshCpuSeconds() - v0) * 1000,
    libvirtdCpuMs: (cpuSeconds(libvirtdPid) - l0) * 1000,
    machineCpuMs: (machineBusySeconds() - m0) * 1000,
  };
}

/** Mean CPU ms per process name over the samples, the 6 largest. */
function meanByCommand(samples: Sample[]): Record<string, number> {
  const sums = new Map<string, number>();
  for (const s of samples) for (const [comm, ms] of s.byCommand) sums.set(comm, (sums.get(comm) ?? 0) + ms);
  return Object.fromEntries([...sums].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([comm, ms]) => [comm, Math.round(ms / samples.length)]));
}

function median(samples: Sample[]): { ms: number; virshCpuMs: number; libvirtdCpuMs: number; machineCpuMs: number; n: number } {
  const r = (v: number) => Math.round(v);
  return {
    ms: r(percentile(samples.map((s) => s.ms), 50)),
    virshCpuMs: r(percentile(samples.map((s) => s.virshCpuMs), 50)),
    libvirtdCpuMs: r(percentile(samples.map((s) => s.libvirtdCpuMs), 50)),
    machineCpuMs: r(percentile(samples.map((s) => s.machineCpuMs), 50)),
    n: samples.length,
  };
}

function firmwareSpec(i: number): VmSpecInput {
  return {
    name: `vrb_fw-${i}`,
    owner: { namespace: 'bench', name: `fw-${i}` },
    generation: 1,
    cpu: { cores: 1 },
    memoryMiB: 64,
    acceleration: 'tcg',
    disks: [],
    nics: [{ name: 'mgmt', bridge: 'br0', mac: `52:54:00:73:01:${(i % 200 + 16).toString(16).padStart(2, '0')}` }],
  };
}

async function virsh(host: TestbedHost, args: string[]): Promise<void> {
  await runChecked(['virsh', '-q', '-c', host.libvirtUri, ...args], { timeoutMs: 60_000 });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '8' }, domains: { type: 'string', default: '0' }, keep: { type: 'boolean', default: false } },
  });
  const rounds = Number(values.rounds);
  const repoRoot = process.env['DROVER_REPO_ROOT'] ?? resolve(import.meta.dirname, '..', '..');
  const stateDir = join(repoRoot, '.drover', 'bench-virsh-verbs');
  await down(stateDir).catch(() => undefined);
  await mkdir(stateDir, { recursive: true });
  const tb = await up({ stateDir, hosts: 1, namePrefix: 'vrb', subnet: '10.247.73.0/24' });
  const host = tb.hosts[0]!;
  const libvirtdPid = Number(readFileSync(join(host.runDir, 'run', 'libvirtd.pid'), 'utf8').trim());
  const log = (m: string) => console.error(m);
  try {
    const driver = new LibvirtDriver({ uri: host.libvirtUri, acceleration: 'tcg' });
    const storage = new FileStorageManager({ stateDir: join(stateDir, 'agent-storage') });
    const service = new VmService({ driver: new CachedListDriver(driver), storage, logger: pino({ level: 'silent' }), publish: () => undefined });
    for (let i = 0; i < Number(values.domains); i += 1) {
      await driver.define(
        buildDomainXml({
          uid: randomUUID(),
          name: `pop-${i}`,
          owner: { namespace: 'bench', name: `pop-${i}` },
          generation: 1,
          hypervisor: 'qemu',
          cpu: { mode: 'host-model', cores: 1 },
          memoryMiB: 64,
          disks: [],
          interfaces: [{ name: 'mgmt', bridge: 'br0', mac: `52:54:00:73:03:${(i % 200 + 16).toString(16).padStart(2, '0')}`, model: 'virtio' }],
        }),
      );
    }
    const xmlFile = join(stateDir, 'domain.xml');
    const raw = { define: [] as Sample[], start: [] as Sample[] };
    const drv = { define: [] as Sample[], start: [] as Sample[], get: [] as Sample[] };
    const agent = { define: [] as Sample[], start: [] as Sample[] };
    // One warm-up round each, not counted (libvirt loads QEMU capabilities on first use).
    for (let i = 0; i <= rounds; i += 1) {
      const keep = i > 0;
      log(`round ${i}/${rounds}`);
      // 1. Plain virsh processes.
      {
        const uid = randomUUID();
        const spec = vmSpec.parse(firmwareSpec(i));
        const xml = buildDomainXml({
          uid,
          name: `raw-${i}`,
          owner: spec.owner,
          generation: 1,
          hypervisor: 'qemu',
          cpu: { mode: 'host-model', cores: 1 },
          memoryMiB: 64,
          disks: [],
          interfaces: [{ name: 'mgmt', bridge: 'br0', mac: spec.nics[0]!.mac, model: 'virtio' }],
        });
        await import('node:fs/promises').then((fs) => fs.writeFile(xmlFile, xml));
        const d = await measure(libvirtdPid, () => virsh(host, ['define', '--file', xmlFile]));
        const s = await measure(libvirtdPid, () => virsh(host, ['start', '--domain', uid]));
        if (keep) raw.define.push(d), raw.start.push(s);
        await virsh(host, ['destroy', '--domain', uid]);
        await virsh(host, ['undefine', '--domain', uid]);
      }
      // 2. The driver's verbs.
      {
        const uid = randomUUID();
        const xml = buildDomainXml({
          uid,
          name: `drv-${i}`,
          owner: { namespace: 'bench', name: `drv-${i}` },
          generation: 1,
          hypervisor: 'qemu',
          cpu: { mode: 'host-model', cores: 1 },
          memoryMiB: 64,
          disks: [],
          interfaces: [{ name: 'mgmt', bridge: 'br0', mac: `52:54:00:73:02:${(i % 200 + 16).toString(16).padStart(2, '0')}`, model: 'virtio' }],
        });
        const d = await measure(libvirtdPid, () => driver.define(xml));
        const g = await measure(libvirtdPid, () => driver.get(uid));
        const s = await measure(libvirtdPid, () => driver.start(uid));
        if (keep) drv.define.push(d), drv.start.push(s), drv.get.push(g);
        await driver.destroy(uid);
        await driver.undefine(uid);
      }
      // 3. The agent's verbs (ownership, idempotence and stale-spec checks included).
      {
        const uid = randomUUID();
        const spec = vmSpec.parse(firmwareSpec(i));
        const d = await measure(libvirtdPid, () => service.define(uid, spec));
        const s = await measure(libvirtdPid, () => service.start(uid));
        if (keep) agent.define.push(d), agent.start.push(s);
        await service.destroy(uid);
        await service.undefine(uid);
      }
    }
    const result = {
      rounds,
      otherDomains: Number(values.domains),
      guest: 'firmware-only, 64 MiB, TCG',
      virsh: { define: median(raw.define), start: median(raw.start) },
      driver: { define: median(drv.define), get: median(drv.get), start: median(drv.start) },
      // Where a start's CPU goes: QEMU itself (libvirt's ~400 qom-get calls reading the guest CPU back) and libvirtd.
      driverStartCpuByProcessMs: meanByCommand(drv.start),
      agent: { define: median(agent.define), start: median(agent.start) },
    };
    console.log(JSON.stringify(result, null, 2));
    if ('close' in driver && typeof (driver as { close?: unknown }).close === 'function') await (driver as unknown as { close(): Promise<void> }).close();
  } finally {
    if (!values.keep) {
      await down(stateDir);
      await rm(stateDir, { recursive: true, force: true });
    }
  }
}

await main();
