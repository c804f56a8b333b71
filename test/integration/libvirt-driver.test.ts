/**
 * The libvirt driver against two real libvirtd hosts of the test bed, with
 * the tiny guest booting for real. Every state the driver reports is also
 * checked with virsh directly, so a driver bug cannot hide behind itself.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStorageManager } from '../../src/agent/storage/index.js';
import { ensureGuestImage, guestCmdline, type GuestImage } from '../../src/dev/guest-image/index.js';
import { down, findBinary, guestAddress, hostExec, run, runChecked, sleep, startOnHost, up, type Testbed, type TestbedHost } from '../../src/dev/testbed/index.js';
import { DriverError, type DomainEvent } from '../../src/hypervisor/driver.js';
import { buildDomainXml, type DomainSpec } from '../../src/hypervisor/domainxml/index.js';
import { LibvirtDriver, Virsh } from '../../src/hypervisor/libvirt/index.js';
import { timer, waitUntil } from '../support/wait.js';

const NAME_PREFIX = 'drvt';
const SUBNET = '10.247.91.0/24';

const timings: Record<string, number> = {};
const latencies: Record<string, number> = {};

const timed = timer(timings);


async function virsh(host: TestbedHost, args: string[]): Promise<string> {
  return (await runChecked(['virsh', '-c', host.libvirtUri, ...args], { timeoutMs: 60_000 })).stdout;
}

async function virshUuids(host: TestbedHost): Promise<string[]> {
  return (await virsh(host, ['list', '--all', '--uuid'])).split('\n').map((l) => l.trim()).filter(Boolean).sort();
}

/** `virsh domstate --reason`, e.g. "shut off (destroyed)"; undefined when the domain does not exist. */
async function virshState(host: TestbedHost, uuid: string): Promise<string | undefined> {
  const r = await runChecked(['virsh', '-c', host.libvirtUri, 'domstate', '--reason', uuid]).catch(() => undefined);
  return r?.stdout.trim();
}

async function httpGet(host: TestbedHost, url: string, timeoutS = 2): Promise<string | undefined> {
  const r = await hostExec(host, ['wget', '-qO-', '-T', String(timeoutS), '-t', '1', url], { check: false, timeoutMs: 10_000 });
  return r.code === 0 ? r.stdout : undefined;
}

/** Collects a driver's events with the wall-clock time each one reached the test. */
class EventLog {
  /** Each event, when it reached the test, and how long after libvirt's own timestamp. */
  readonly events: { e: DomainEvent; at: number; lagMs: number }[] = [];
  readonly done: Promise<void>;

  constructor(driver: LibvirtDriver, signal: AbortSignal) {
    this.done = (async () => {
      for await (const e of driver.events(signal)) this.events.push({ e, at: performance.now(), lagMs: Date.now() - Date.parse(e.time) });
    })();
  }

  /** Waits for an event of `uuid` matching event (and detail) received after `since`. */
  async wait(uuid: string, event: string, detail: string | undefined, since: number, timeoutMs = 10_000): Promise<{ e: DomainEvent; at: number }> {
    return waitUntil(`event ${event}/${detail ?? '*'} for ${uuid}`, timeoutMs, async () =>
      this.events.find((x) => x.at >= since && x.e.uuid === uuid && x.e.event === event && (detail === undefined || x.e.detail === detail)),
    20);
  }
}

describe('LibvirtDriver on a two-host test bed', () => {
  let stateDir: string;
  let image: GuestImage;
  let tb: Testbed;
  let h1: TestbedHost;
  let h2: TestbedHost;
  let d1: LibvirtDriver;
  let d2: LibvirtDriver;
  let log1: EventLog;
  let log2: EventLog;
  const events = new AbortController();
  let guestN = 0;

  /** A TCG guest booting the test image with its own IP, on the hosts' br0. */
  function guestSpec(opts: { disks?: DomainSpec['disks']; machine?: string } = {}): { spec: DomainSpec; ip: string } {
    guestN += 1;
    const name = `drvt-${guestN}-${randomBytes(3).toString('hex')}`;
    const ip = guestAddress(tb.subnet, guestN);
    const mac = `52:54:00:${(randomBytes(3).toString('hex').match(/../g) ?? ['00', '00', '01']).join(':')}`;
    const spec: DomainSpec = {
      uid: randomUUID(),
      name,
      owner: { namespace: 'drvt', name },
      hypervisor: 'qemu',
      ...(opts.machine ? { machine: opts.machine } : {}),
      cpu: { cores: 1, mode: 'host-model' },
      memoryMiB: 256,
      boot: { kernel: image.kernel, initrd: image.initrd, cmdline: guestCmdline(image, { ip: `${ip}/${tb.subnet.prefixLength}`, gateway: tb.subnet.gateway, name }) },
      disks: opts.disks ?? [],
      interfaces: [{ name: 'eth0', bridge: h1.vmBridge, mac, model: 'virtio' }],
    };
    return { spec, ip };
  }

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'drover-drvt-'));
    image = await ensureGuestImage();
    tb = await timed('testbedUp', () => up({ stateDir, hosts: 2, namePrefix: NAME_PREFIX, subnet: SUBNET }));
    const [a, b] = tb.hosts;
    if (!a || !b) throw new Error('expected two hosts');
    h1 = a;
    h2 = b;
    d1 = new LibvirtDriver({ uri: h1.libvirtUri, acceleration: 'tcg' });
    d2 = new LibvirtDriver({ uri: h2.libvirtUri, acceleration: 'tcg' });
    log1 = new EventLog(d1, events.signal);
    log2 = new EventLog(d2, events.signal);
    // virsh event needs a moment to connect; events before that are not promised.
    await sleep(1000);
  }, 600_000);

  afterAll(async () => {
    events.abort();
    await Promise.all([log1?.done, log2?.done].map((p) => p?.catch(() => undefined)));
    if (stateDir) {
      await down(stateDir);
      await rm(stateDir, { recursive: true, force: true });
    }
    console.log(`libvirt driver timings (ms): ${JSON.stringify(timings)}; event latency (ms): ${JSON.stringify(latencies)}; /dev/kvm: ${String(tb?.kvm)}`);
  }, 120_000);

  it('reports capabilities that match what libvirt, the kernel and the binaries say independently', async () => {
    const caps = await d1.capabilities();
    const virshCaps = await virsh(h1, ['capabilities']);
    expect(caps.hostUUID).toBe(/<host>\s*<uuid>([^<]+)<\/uuid>/.exec(virshCaps)?.[1]);
    expect(caps.hostUUID).toBe(h1.hostUuid);
    expect((await d2.capabilities()).hostUUID).toBe(h2.hostUuid);
    // libvirt's host memory is the sum of its NUMA cells (which is also what
    // /sys/devices/system/node/node*/meminfo says; on this sandbox that is
    // less than /proc/meminfo's MemTotal, see the final report).
    const cellKiB = [...virshCaps.matchAll(/<cell id='\d+'>\s*<memory unit='KiB'>(\d+)<\/memory>/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(cellKiB).toBeGreaterThan(0);
    expect(caps.memoryBytes).toBe(cellKiB * 1024);
    expect(caps.cpu.model).toBe(/<host>[\s\S]*?<cpu>[\s\S]*?<model>([^<]+)<\/model>/.exec(virshCaps)?.[1]);
    expect(caps.cpu.flags.length).toBe([...virshCaps.split('<guest>')[0]!.matchAll(/<feature name='([^']+)'\/>/g)].length);
    expect(caps.cpu.sockets * caps.cpu.cores * caps.cpu.threads).toBeGreaterThanOrEqual(1);
    const libvirtd = (await runChecked(['libvirtd', '--version'])).stdout;
    expect(libvirtd).toContain(caps.libvirtVersion);
    const qemu = (await runChecked(['qemu-system-x86_64', '--version'])).stdout;
    expect(qemu).toContain(`version ${caps.qemuVersion}`);
    expect(caps.hypervisorType).toBe('qemu');

    // KVM: libvirt offers it and /dev/kvm opens, or not; 'auto' and 'kvm' follow.
    const kvmDevice = await import('node:fs/promises').then((fs) => fs.open('/dev/kvm', 'r+')).then(
      async (fh) => {
        await fh.close();
        return true;
      },
      () => false,
    );
    const auto = await new LibvirtDriver({ uri: h1.libvirtUri }).capabilities();
    expect(auto.hypervisorType).toBe(kvmDevice ? 'kvm' : 'qemu');
    const forced = new LibvirtDriver({ uri: h1.libvirtUri, acceleration: 'kvm' }).capabilities();
    if (kvmDevice) await expect(forced).resolves.toMatchObject({ hypervisorType: 'kvm' });
    else await expect(forced).rejects.toMatchObject({ kind: 'Unavailable' });
    // A device that cannot be opened means no KVM, whatever libvirt says.
    const noDev = await new LibvirtDriver({ uri: h1.libvirtUri, kvmDevice: path.join(stateDir, 'no-kvm') }).capabilities();
    expect(noDev.hypervisorType).toBe('qemu');
  });

  it('defines, starts, shuts down, restarts, destroys and undefines a booting guest, with events within 1 s', async () => {
    const { spec, ip } = guestSpec();
    const uuid = spec.uid;
    const xml = buildDomainXml(spec);

    let t = performance.now();
    await timed('define', () => d1.define(xml));
    expect(await virshUuids(h1)).toContain(uuid);
    expect(await virshState(h1, uuid)).toMatch(/^shut off/);
    const defined = await log1.wait(uuid, 'defined', 'added', t);
    latencies['defined'] = Math.round(defined.at - t);
    expect((await d1.get(uuid))?.state).toBe('shut off');

    // start → running
    t = performance.now();
    await timed('start', () => d1.start(uuid));
    const startReturned = performance.now();
    expect(await virshState(h1, uuid)).toBe('running (booted)');
    const started = await log1.wait(uuid, 'started', 'booted', t);
    latencies['started'] = Math.round(started.at - startReturned);
    expect(started.at - startReturned).toBeLessThan(1000);
    expect(started.e.name).toBe(spec.name);
    timings['defineStartToRunning'] = Math.round(startReturned - t + timings['define']!);
    const info = await d1.get(uuid);
    expect(info).toMatchObject({ uuid, name: spec.name, state: 'running', reason: 'booted', persistent: true });
    expect(info?.xml).toContain(`<uuid>${uuid}</uuid>`);
    expect((await d1.list()).map((d) => d.uuid)).toContain(uuid);

    // The guest really boots: HTTP from the other host.
    await timed('bootToHttp', () =>
      waitUntil('guest HTTP', 120_000, async () => (await httpGet(h2, `http://${ip}/healthz`)) === 'ok', 200),
    );
    expect((await httpGet(h2, `http://${ip}/`))?.trim()).toBe(spec.name);

    // suspend / resume
    await d1.suspend(uuid);
    expect(await virshState(h1, uuid)).toBe('paused (user)');
    expect((await d1.get(uuid))?.state).toBe('paused');
    await d1.resume(uuid);
    expect(await virshState(h1, uuid)).toMatch(/^running/);

    // Verbs that don't fit the state are Conflicts, unknown domains NotFound.
    await expect(d1.start(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(d1.undefine(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
    expect(await virshUuids(h1)).toContain(uuid);
    await expect(d1.start(randomUUID())).rejects.toMatchObject({ kind: 'NotFound' });
    expect(await d1.get(randomUUID())).toBeUndefined();

    // graceful shutdown: the guest's acpid powers off.
    t = performance.now();
    await d1.shutdown(uuid);
    await timed('shutdownToShutOff', () =>
      waitUntil('shut off after ACPI shutdown', 60_000, async () => (await virshState(h1, uuid))?.startsWith('shut off')),
    );
    expect(await virshState(h1, uuid)).toBe('shut off (shutdown)');
    await log1.wait(uuid, 'stopped', 'shutdown', t);
    expect(await d1.get(uuid)).toMatchObject({ state: 'shut off', reason: 'shutdown' });

    // start again, then destroy
    await d1.start(uuid);
    expect(await virshState(h1, uuid)).toMatch(/^running/);
    t = performance.now();
    await d1.destroy(uuid);
    const destroyReturned = performance.now();
    expect(await virshState(h1, uuid)).toBe('shut off (destroyed)');
    const destroyed = await log1.wait(uuid, 'stopped', 'destroyed', t);
    latencies['destroyed'] = Math.round(destroyed.at - destroyReturned);
    expect(destroyed.at - destroyReturned).toBeLessThan(1000);
    await expect(d1.shutdown(uuid)).rejects.toMatchObject({ kind: 'Conflict' });

    // start again, then kill -9 the QEMU process: libvirt sees it die.
    await d1.start(uuid);
    const pidFile = path.join(h1.runDir, 'run', 'qemu', `${spec.name}.pid`);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(Number.isInteger(pid) && pid > 1).toBe(true);
    // Make sure the pid is this domain's QEMU before killing it.
    expect(await readFile(`/proc/${pid}/cmdline`, 'utf8')).toContain(uuid);
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    // libvirt reports the stop only once the dead QEMU has been reaped by its
    // parent (libvirt daemonizes QEMU, so that is PID 1, or a subreaper).
    // This sandbox's PID 1 reaps orphans only every ~1.5 s, where systemd
    // does it at once; so the 1 s budget is measured from the reap, and the
    // raw kill → event time is reported alongside.
    const reapedAt = await waitUntil('QEMU reaped', 10_000, async () => (existsSync(`/proc/${pid}`) ? undefined : performance.now()), 5);
    const crashed = await log1.wait(uuid, 'stopped', 'failed', killedAt);
    latencies['killToEvent'] = Math.round(crashed.at - killedAt);
    latencies['reapToEvent'] = Math.round(crashed.at - reapedAt);
    expect(crashed.at - reapedAt).toBeLessThan(1000);
    expect(await virshState(h1, uuid)).toBe('shut off (crashed)');
    expect(await d1.get(uuid)).toMatchObject({ state: 'shut off', reason: 'crashed' });

    // undefine
    t = performance.now();
    await d1.undefine(uuid);
    expect(await virshUuids(h1)).not.toContain(uuid);
    expect(await virshState(h1, uuid)).toBeUndefined();
    await log1.wait(uuid, 'undefined', 'removed', t);
    expect(await d1.get(uuid)).toBeUndefined();

    // Every event of this domain, in order, each within 1 s of libvirt emitting it.
    const mine = log1.events.filter((x) => x.e.uuid === uuid);
    expect(mine.map((x) => `${x.e.event}/${x.e.detail}`)).toEqual([
      'defined/added',
      'resumed/unpaused',
      'started/booted',
      'suspended/paused',
      'resumed/unpaused',
      'shutdown/guest',
      'stopped/shutdown',
      'resumed/unpaused',
      'started/booted',
      'shutdown/host',
      'stopped/destroyed',
      'resumed/unpaused',
      'started/booted',
      'stopped/failed',
      'undefined/removed',
    ]);
    latencies['maxLibvirtToTest'] = Math.max(...mine.map((x) => x.lagMs));
    for (const x of mine) expect({ event: `${x.e.event}/${x.e.detail}`, lagUnder1s: x.lagMs < 1000 }).toEqual({ event: `${x.e.event}/${x.e.detail}`, lagUnder1s: true });
  }, 300_000);

  it('live-migrates a serving guest from host 1 to host 2; jobInfo, abortJob and the timeout work on the way', async () => {
    const { spec, ip } = guestSpec();
    const uuid = spec.uid;
    await d1.define(buildDomainXml(spec));
    await d1.start(uuid);
    await waitUntil('guest HTTP', 120_000, async () => (await httpGet(h2, `http://${ip}/healthz`)) === 'ok', 200);

    // A throttled migration shows progress in jobInfo and stops on abortJob.
    const slow = d1.migrate(uuid, { destinationURI: h2.libvirtUri, bandwidthMiBps: 4 });
    const progress = await waitUntil('migration job', 20_000, async () => {
      const j = await d1.jobInfo(uuid);
      return j.type === 'unbounded' && (j.dataProcessedBytes ?? 0) > 0 ? j : undefined;
    });
    expect(progress).toMatchObject({ type: 'unbounded', operation: 'migration-out' });
    expect(progress.dataTotalBytes).toBeGreaterThan(256 * 1024 * 1024);
    await d1.abortJob(uuid);
    await expect(slow).rejects.toBeInstanceOf(DriverError);
    expect(await virshState(h1, uuid)).toMatch(/^running/);
    expect(await virshUuids(h2)).not.toContain(uuid);

    // The timeout aborts (it does not pause the guest into completing).
    await expect(d1.migrate(uuid, { destinationURI: h2.libvirtUri, bandwidthMiBps: 4, timeoutSeconds: 2 })).rejects.toMatchObject({
      kind: 'Failed',
      message: expect.stringContaining('did not finish within 2 s'),
    });
    expect(await virshState(h1, uuid)).toMatch(/^running/);
    expect(await virshUuids(h2)).not.toContain(uuid);

    // The real one, while host 2 keeps asking the guest over HTTP.
    let stop = false;
    const answers: boolean[] = [];
    const prober = (async () => {
      for (let i = 0; i < 300 && !stop; i++) {
        answers.push((await httpGet(h2, `http://${ip}/healthz`, 3)) === 'ok');
        await sleep(100);
      }
    })();
    await sleep(500);
    const t = performance.now();
    await timed('migration', () =>
      d1.migrate(uuid, { destinationURI: h2.libvirtUri, autoConverge: true, maxDowntimeMs: 300, timeoutSeconds: 120 }),
    );
    await sleep(1000);
    stop = true;
    await prober;
    const failures = answers.filter((ok) => !ok).length;
    timings['migrationProbeAnswers'] = answers.length;
    timings['migrationProbeFailures'] = failures;
    expect(answers.length).toBeGreaterThanOrEqual(5);
    // wget gives up after 3 s; a switch-over of ~0.2 s plus ARP learning costs at most one answer.
    expect(failures).toBeLessThanOrEqual(1);
    expect(answers.at(-1)).toBe(true);

    // Exactly one host has it, running, persistent.
    expect(await virshUuids(h1)).not.toContain(uuid);
    expect(await virshUuids(h2)).toContain(uuid);
    expect(await virshState(h2, uuid)).toBe('running (migrated)');
    expect(await d1.get(uuid)).toBeUndefined();
    expect(await d2.get(uuid)).toMatchObject({ state: 'running', persistent: true });
    await log1.wait(uuid, 'stopped', 'migrated', t);
    await log2.wait(uuid, 'resumed', 'migrated', t);
    expect((await httpGet(h1, `http://${ip}/`))?.trim()).toBe(spec.name);

    await d2.destroy(uuid);
    await d2.undefine(uuid);
  }, 300_000);

  it('maps specs libvirt rejects to InvalidSpec and leaves the host unchanged', async () => {
    const before = await virshUuids(h1);
    const bad = guestSpec({ machine: 'pc-bogus-9' });
    const err = await d1.define(buildDomainXml(bad.spec)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).toMatchObject({ kind: 'InvalidSpec' });
    expect(await virshUuids(h1)).toEqual(before);

    // Malformed XML and XML without a UUID never define anything either.
    await expect(d1.define('<domain type="qemu"><name>x</name>')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(d1.define('<domain type="qemu"><name>x</name></domain>')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    expect(await virshUuids(h1)).toEqual(before);

    // A disk that does not exist: libvirt accepts the definition but refuses to start it.
    const missing = guestSpec({ disks: [{ name: 'root', path: path.join(tb.sharedDir, 'no-such-disk.qcow2'), format: 'qcow2', bus: 'virtio' }] });
    await d1.define(buildDomainXml(missing.spec));
    await expect(d1.start(missing.spec.uid)).rejects.toMatchObject({ kind: 'InvalidSpec', message: expect.stringContaining('no-such-disk') });
    expect(await virshState(h1, missing.spec.uid)).toMatch(/^shut off/);
    await d1.undefine(missing.spec.uid);
    expect(await virshUuids(h1)).toEqual(before);

    // Names that are not UUIDs never reach virsh.
    await expect(d1.start('--help')).rejects.toMatchObject({ kind: 'InvalidSpec' });
  });

  it('refuses to start a disk on host 2 while host 1 runs it (LeaseHeld), and storage refuses to delete it', async () => {
    const storage = new FileStorageManager({ stateDir: path.join(stateDir, 'agent-storage') });
    const sdPath = path.join(tb.sharedDir, 'sd1');
    await mkdir(sdPath, { recursive: true });
    await storage.connect('shared', { type: 'PosixFS', path: sdPath });
    await storage.format('shared', { uuid: randomUUID(), name: 'shared', role: 'Data' });
    const vol = await storage.createVolume('shared', 'disk1', 64 * 1024 * 1024);

    const { spec } = guestSpec({ disks: [{ name: 'root', path: vol.path, format: 'qcow2', bus: 'virtio' }] });
    const xml = buildDomainXml(spec);
    await d1.define(xml);
    await d2.define(xml);
    await d1.start(spec.uid);
    expect(await virshState(h1, spec.uid)).toMatch(/^running/);

    const err = await d2.start(spec.uid).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).toMatchObject({ kind: 'LeaseHeld' });
    expect(await virshState(h2, spec.uid)).toMatch(/^shut off/);
    await expect(storage.deleteVolume('shared', 'disk1')).rejects.toMatchObject({ kind: 'Conflict' });

    // Once host 1's QEMU is gone, host 2 may run it.
    await d1.destroy(spec.uid);
    await d2.start(spec.uid);
    expect(await virshState(h2, spec.uid)).toMatch(/^running/);
    await d2.destroy(spec.uid);
    await d1.undefine(spec.uid);
    await d2.undefine(spec.uid);
    await storage.deleteVolume('shared', 'disk1');
    expect(await storage.getVolume('shared', 'disk1')).toBeUndefined();
  }, 120_000);
  it('keeps one virsh process and connection for many calls, and rides out a libvirtd restart', async () => {
    // The session path as the driver uses it, observable: one child, one connection.
    const v = new Virsh(h2.libvirtUri, 'virsh', { sessions: 1 });
    const d = new LibvirtDriver({ uri: h2.libvirtUri, acceleration: 'tcg', sessions: 1 });
    try {
      const { spec } = guestSpec();
      await d.define(buildDomainXml(spec));
      for (let i = 0; i < 10; i++) {
        expect(await d.get(spec.uid)).toMatchObject({ uuid: spec.uid, name: spec.name, state: 'shut off', persistent: true });
        expect((await d.list()).map((x) => x.uuid)).toContain(spec.uid);
      }
      expect(await d.get(randomUUID())).toBeUndefined();
      await d.undefine(spec.uid);
      expect(await virshUuids(h2)).not.toContain(spec.uid);

      expect((await v.run(['uri'])).trim()).toBe(h2.libvirtUri);
      const session = v.sessions!.members[0]!;
      const pid = session.pid;
      expect(pid).toBeGreaterThan(1);
      // The session's connection is one TCP connection to the host's libvirtd, kept open across calls.
      const ownConnections = async () =>
        (await runChecked(['ss', '-Htnp', 'state', 'established', 'dst', `${h2.ip}:16509`])).stdout
          .split('\n')
          .filter((l) => l.includes(`pid=${pid},`))
          .map((l) => l.trim().split(/\s+/)[2]);
      const before = await ownConnections();
      expect(before).toHaveLength(1);
      for (let i = 0; i < 10; i++) await v.run(['version']);
      expect(await ownConnections()).toEqual(before);
      expect(session.pid).toBe(pid);
      expect(session.started).toBe(1);

      // libvirtd goes away: calls fail Unavailable meanwhile (as a new virsh would)...
      const pidFile = path.join(h2.runDir, 'run', 'libvirtd.pid');
      const daemon = Number((await readFile(pidFile, 'utf8')).trim());
      process.kill(daemon, 'SIGTERM');
      await waitUntil('libvirtd gone', 30_000, async () => !existsSync(`/proc/${daemon}`));
      await expect(v.run(['uri'])).rejects.toMatchObject({ kind: 'Unavailable' });
      await expect(d.get(spec.uid)).rejects.toMatchObject({ kind: 'Unavailable' });
      // ...and once it is back, the same sessions answer again.
      await startOnHost(h2, [await findBinary('tini'), '-s', '-g', '--', await findBinary('libvirtd'), '--listen', '-p', '/run/libvirt/libvirtd.pid'], path.join(h2.logDir, 'libvirtd.out'));
      await waitUntil('libvirtd back', 60_000, async () => (await run(['virsh', '-c', h2.libvirtUri, 'uri'], { timeoutMs: 10_000 })).code === 0, 200);
      expect((await v.run(['uri'])).trim()).toBe(h2.libvirtUri);
      expect(await d.get(spec.uid)).toBeUndefined();
      expect(await d2.list()).toEqual(expect.any(Array));
      timings['sessionRestartsAfterLibvirtdRestart'] = session.started - 1;
    } finally {
      await Promise.all([v.close(), d.close()]);
    }
  }, 120_000);
});
