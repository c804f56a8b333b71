/**
 * Measures the libvirt driver's verbs, one at a time, against two real test
 * hosts (test bed, TCG), and prints their p50/p95 as JSON. These figures are
 * the defaults of the simulated driver's latencies
 * (src/hypervisor/simulated/latencies.ts); rerun this to refresh them:
 *
 * ```
 * npm run -s build && node dist/bench/driver-latency.js [rounds]
 * ```
 *
 * It also prints the lifecycle events each host reported around a live
 * migration, which the simulator reproduces.
 *
 * @packageDocumentation
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureGuestImage, guestCmdline } from '../dev/guest-image/index.js';
import { down, guestAddress, hostExec, sleep, up, type TestbedHost } from '../dev/testbed/index.js';
import type { DomainEvent } from '../hypervisor/driver.js';
import { buildDomainXml, type DomainSpec } from '../hypervisor/domainxml/index.js';
import { LibvirtDriver } from '../hypervisor/libvirt/index.js';

const NAME_PREFIX = 'simm';
const SUBNET = '10.247.97.0/24';

/** p50/p95 of samples in ms, rounded to 0.1 ms. */
function percentiles(samples: number[]): { p50: number; p95: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), n: s.length };
}

async function time(samples: Record<string, number[]>, verb: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  (samples[verb] ??= []).push(performance.now() - t0);
}

/** Waits until the guest at `ip` answers HTTP (asked from `host`), i.e. it booted and its acpid runs. */
async function guestUp(host: TestbedHost, ip: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await hostExec(host, ['wget', '-qO-', '-T', '2', '-t', '1', `http://${ip}/healthz`], { check: false, timeoutMs: 10_000 });
    if (r.code === 0) return;
    await sleep(200);
  }
  throw new Error(`guest ${ip} did not answer within ${timeoutMs} ms`);
}

/** Runs the measurement; returns the figures printed. */
export async function measureDriverLatency(rounds = 8): Promise<Record<string, unknown>> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'drover-simm-'));
  const image = await ensureGuestImage();
  const tb = await up({ stateDir, hosts: 2, namePrefix: NAME_PREFIX, subnet: SUBNET });
  const [h1, h2] = tb.hosts;
  if (!h1 || !h2) throw new Error('expected two hosts');
  const d1 = new LibvirtDriver({ uri: h1.libvirtUri, acceleration: 'tcg' });
  const d2 = new LibvirtDriver({ uri: h2.libvirtUri, acceleration: 'tcg' });
  const events: { host: number; e: DomainEvent }[] = [];
  const stop = new AbortController();
  const pumps = [d1, d2].map(async (d, host) => {
    for await (const e of d.events(stop.signal)) events.push({ host: host + 1, e });
  });
  await sleep(1000);
  const samples: Record<string, number[]> = {};
  let n = 0;
  const ips = new Map<string, string>();
  const spec = (booted: boolean): DomainSpec => {
    n += 1;
    const name = `simm-${n}-${randomBytes(3).toString('hex')}`;
    const ip = guestAddress(tb.subnet, n);
    const uid = randomUUID();
    ips.set(uid, ip);
    return {
      uid,
      name,
      owner: { namespace: 'simm', name },
      hypervisor: 'qemu',
      cpu: { cores: 1, mode: 'host-model' },
      memoryMiB: booted ? 256 : 64,
      ...(booted
        ? { boot: { kernel: image.kernel, initrd: image.initrd, cmdline: guestCmdline(image, { ip: `${ip}/${tb.subnet.prefixLength}`, gateway: tb.subnet.gateway, name }) } }
        : {}),
      disks: [],
      interfaces: [{ name: 'eth0', bridge: h1.vmBridge, mac: `52:54:00:97:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`, model: 'virtio' }],
    };
  };
  try {
    await time(samples, 'capabilities', () => d1.capabilities());
    // Firmware-only domains: the verbs' own cost, without a guest competing for the CPU.
    for (let i = 0; i < rounds; i++) {
      const s = spec(false);
      await time(samples, 'define', () => d1.define(buildDomainXml(s)));
      await time(samples, 'start', () => d1.start(s.uid));
      await time(samples, 'get', () => d1.get(s.uid));
      await time(samples, 'jobInfo', () => d1.jobInfo(s.uid));
      await time(samples, 'suspend', () => d1.suspend(s.uid));
      await time(samples, 'resume', () => d1.resume(s.uid));
      await time(samples, 'destroy', () => d1.destroy(s.uid));
      await time(samples, 'undefine', () => d1.undefine(s.uid));
    }
    // list with a few domains defined.
    const listed = Array.from({ length: 5 }, () => spec(false));
    for (const s of listed) await d1.define(buildDomainXml(s));
    for (let i = 0; i < rounds; i++) await time(samples, 'list5', () => d1.list());
    for (const s of listed) await d1.undefine(s.uid);

    // A booted guest: ACPI shutdown until shut off, and a live migration there and back.
    const g = spec(true);
    await d1.define(buildDomainXml(g));
    const shutdownToOff: number[] = [];
    const boot: number[] = [];
    for (let i = 0; i < Math.min(rounds, 3); i++) {
      const t0 = performance.now();
      await d1.start(g.uid);
      // The guest's acpid is up once it answers; wait for that before asking it to shut down.
      await guestUp(h2, ips.get(g.uid)!);
      boot.push(performance.now() - t0);
      const t1 = performance.now();
      await time(samples, 'shutdown', () => d1.shutdown(g.uid));
      const deadline = Date.now() + 60_000;
      while ((await d1.get(g.uid))?.state !== 'shut off') {
        if (Date.now() > deadline) throw new Error('the guest ignored ACPI shutdown for 60 s');
        await sleep(20);
      }
      shutdownToOff.push(performance.now() - t1);
    }
    samples['shutdownToShutOff'] = shutdownToOff;
    samples['startToGuestUp'] = boot;
    await d1.start(g.uid);
    await guestUp(h2, ips.get(g.uid)!);
    const migrationStart = events.length;
    const opts = (to: string) => ({ destinationURI: to, unsafe: true });
    for (let i = 0; i < Math.min(rounds, 4); i++) {
      const [from, to] = i % 2 === 0 ? [d1, h2.libvirtUri] : [d2, h1.libvirtUri];
      await time(samples, 'migrate256MiB', () => from.migrate(g.uid, opts(to)));
    }
    await sleep(1000);
    const migrationEvents = events
      .slice(migrationStart)
      .filter((x) => x.e.uuid === g.uid)
      .map((x) => `h${x.host} ${x.e.event}/${x.e.detail}`);
    const result = {
      machine: `libvirt test bed (${NAME_PREFIX}), TCG, ${new Date().toISOString()}`,
      verbs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, percentiles(v)])),
      migrationEvents,
    };
    for (const d of [d1, d2]) {
      const info = await d.get(g.uid);
      if (info && info.state !== 'shut off') await d.destroy(g.uid);
      if (info) await d.undefine(g.uid);
    }
    return result;
  } finally {
    stop.abort();
    await Promise.all(pumps.map((p) => p.catch(() => undefined)));
    await down(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rounds = Number(process.argv[2] ?? 8);
  measureDriverLatency(rounds).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
