/**
 * The behaviour every HypervisorDriver promises the agent, as one suite run
 * against the libvirt driver on real test hosts (integration project) and
 * against the simulated driver (unit project). The same assertions pass on
 * both: that is what makes the simulator's benchmark figures mean something.
 *
 * A driver is never its own witness: the fixture gives an independent view
 * of each host (virsh for libvirt) that the suite checks the driver's
 * answers against. What only a real hypervisor has (a booting Linux guest
 * answering HTTP, real QEMU processes, storage refusing to delete a locked
 * image) comes in through fixture hooks, so the libvirt run keeps checking
 * it at the same points of the story.
 */
import { randomUUID } from 'node:crypto';
import { DriverError, type DomainEvent, type HypervisorDriver } from '../../src/hypervisor/driver.js';
import { buildDomainXml, type DomainSpec } from '../../src/hypervisor/domainxml/index.js';
import { timer, waitUntil } from './wait.js';

/** A host index of the two-host fixture. */
export type HostIndex = 0 | 1;

/** A disk image both hosts see. */
export interface SharedDisk {
  path: string;
  /** Extra checks while a domain on host 1 runs on it (libvirt: storage refuses to delete the image). */
  whileInUse?: () => Promise<void>;
  /** Removes the image (the suite calls it once no domain uses it). */
  remove(): Promise<void>;
}

/** What the suite needs of a driver under test: two hosts, guests, and an outside view. */
export interface DriverContractFixture {
  /** The drivers of host 1 and host 2. */
  drivers: readonly [HypervisorDriver, HypervisorDriver];
  /** Each host's URI as a migration destination. */
  uris: readonly [string, string];
  /** A well-formed destination URI where no host answers. */
  unreachableURI: string;
  /** A fresh guest (new UID, name and MAC) that boots on either host; 256 MiB or more. */
  guest(opts?: { disks?: DomainSpec['disks']; machine?: string }): DomainSpec;
  /** Independent view: the UUIDs defined on a host, sorted. */
  uuids(host: HostIndex): Promise<string[]>;
  /** Independent view: `virsh domstate --reason` of a domain ("running (booted)"); undefined when absent. */
  state(host: HostIndex, uuid: string): Promise<string | undefined>;
  /** Resolves once the running guest listens to ACPI (booted); may check more of the guest on the way. */
  guestUp(host: HostIndex, spec: DomainSpec): Promise<void>;
  /** Kills the running domain's emulator from outside; resolves with the performance.now() from which the hypervisor can know. */
  killEmulator(host: HostIndex, spec: DomainSpec): Promise<number>;
  /** A writable disk image on storage both hosts see. */
  sharedDisk(name: string): Promise<SharedDisk>;
  /** A path on that storage that does not exist. */
  missingDiskPath(): string;
  /** Watches a running guest through its migration; the returned check runs after it (libvirt: the guest keeps serving). */
  watchMigration?(spec: DomainSpec): Promise<() => Promise<void>>;
  /** Runs a migration step; if it fails, fails with the hosts' own account of it added (libvirt: job info, states, logs). */
  withMigrationEvidence?<T>(spec: DomainSpec, step: () => Promise<T>): Promise<T>;
  /** How long after subscribing events are promised (virsh event needs a moment to connect). */
  eventsSettleMs: number;
  /** Where the suite records step durations and event latencies (ms) for the report line. */
  timings: Record<string, number>;
}

/** Collects a driver's events with the wall-clock time each one reached the test. */
export class EventLog {
  /** Each event, when it reached the test, and how long after the hypervisor's own timestamp. */
  readonly events: { e: DomainEvent; at: number; lagMs: number }[] = [];
  readonly done: Promise<void>;

  constructor(driver: HypervisorDriver, signal: AbortSignal) {
    this.done = (async () => {
      for await (const e of driver.events(signal)) this.events.push({ e, at: performance.now(), lagMs: Date.now() - Date.parse(e.time) });
    })();
  }

  /** Waits for an event of `uuid` matching event (and detail) received after `since`. */
  async wait(uuid: string, event: string, detail: string | undefined, since: number, timeoutMs = 10_000): Promise<{ e: DomainEvent; at: number }> {
    return waitUntil(
      `event ${event}/${detail ?? '*'} for ${uuid}`,
      timeoutMs,
      async () => this.events.find((x) => x.at >= since && x.e.uuid === uuid && x.e.event === event && (detail === undefined || x.e.detail === detail)),
      20,
    );
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Declares the contract suite for a driver. `fixture` is called once the
 * suite starts (inside beforeAll), so the caller may set up hosts in its own
 * enclosing beforeAll.
 */
export function describeDriverContract(name: string, fixture: () => DriverContractFixture): void {
  describe(`HypervisorDriver contract: ${name}`, () => {
    let f: DriverContractFixture;
    let d1: HypervisorDriver;
    let d2: HypervisorDriver;
    let log1: EventLog;
    let log2: EventLog;
    const events = new AbortController();
    let timed: ReturnType<typeof timer>;

    beforeAll(async () => {
      f = fixture();
      [d1, d2] = f.drivers;
      timed = timer(f.timings);
      log1 = new EventLog(d1, events.signal);
      log2 = new EventLog(d2, events.signal);
      await new Promise((r) => setTimeout(r, f.eventsSettleMs));
    });

    afterAll(async () => {
      events.abort();
      await Promise.all([log1?.done, log2?.done].map((p) => p?.catch(() => undefined)));
    });

    it('ends the event stream when its signal aborts', async () => {
      const stop = new AbortController();
      const log = new EventLog(d1, stop.signal);
      stop.abort();
      await expect(log.done).resolves.toBeUndefined();
    });

    it('reports host capabilities of its own per host', async () => {
      const [c1, c2] = await Promise.all([d1.capabilities(), d2.capabilities()]);
      for (const c of [c1, c2]) {
        expect(c.hostUUID).toMatch(UUID);
        expect(c.memoryBytes).toBeGreaterThan(0);
        expect(c.cpu.sockets * c.cpu.cores * c.cpu.threads).toBeGreaterThanOrEqual(1);
        expect(['kvm', 'qemu']).toContain(c.hypervisorType);
        expect(c.libvirtVersion).toMatch(/^\d+\.\d+/);
        expect(c.qemuVersion).toMatch(/^\d+\.\d+/);
      }
      expect(c1.hostUUID).not.toBe(c2.hostUUID);
    });

    it('defines, starts, shuts down, restarts, destroys and undefines a booting guest, with events within 1 s', async () => {
      const spec = f.guest();
      const uuid = spec.uid;
      const xml = buildDomainXml(spec);

      let t = performance.now();
      await timed('define', () => d1.define(xml));
      expect(await f.uuids(0)).toContain(uuid);
      expect(await f.state(0, uuid)).toMatch(/^shut off/);
      const defined = await log1.wait(uuid, 'defined', 'added', t);
      f.timings['definedEvent'] = Math.round(defined.at - t);
      expect((await d1.get(uuid))?.state).toBe('shut off');

      // start → running
      t = performance.now();
      await timed('start', () => d1.start(uuid));
      const startReturned = performance.now();
      expect(await f.state(0, uuid)).toBe('running (booted)');
      const started = await log1.wait(uuid, 'started', 'booted', t);
      f.timings['startedEvent'] = Math.round(started.at - startReturned);
      expect(started.at - startReturned).toBeLessThan(1000);
      expect(started.e.name).toBe(spec.name);
      f.timings['defineStartToRunning'] = Math.round(startReturned - t + f.timings['define']!);
      const info = await d1.get(uuid);
      expect(info).toMatchObject({ uuid, name: spec.name, state: 'running', reason: 'booted', persistent: true });
      expect(info?.xml).toContain(`<uuid>${uuid}</uuid>`);
      expect((await d1.list()).map((d) => d.uuid)).toContain(uuid);
      await timed('bootToGuestUp', () => f.guestUp(0, spec));

      // suspend / resume
      await d1.suspend(uuid);
      expect(await f.state(0, uuid)).toBe('paused (user)');
      expect((await d1.get(uuid))?.state).toBe('paused');
      await d1.resume(uuid);
      expect(await f.state(0, uuid)).toMatch(/^running/);

      // Verbs that don't fit the state are Conflicts, unknown domains NotFound.
      await expect(d1.start(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
      await expect(d1.undefine(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
      expect(await f.uuids(0)).toContain(uuid);
      await expect(d1.start(randomUUID())).rejects.toMatchObject({ kind: 'NotFound' });
      expect(await d1.get(randomUUID())).toBeUndefined();

      // graceful shutdown: the guest powers off.
      t = performance.now();
      await d1.shutdown(uuid);
      await timed('shutdownToShutOff', () =>
        waitUntil('shut off after ACPI shutdown', 60_000, async () => (await f.state(0, uuid))?.startsWith('shut off'), 20),
      );
      expect(await f.state(0, uuid)).toBe('shut off (shutdown)');
      await log1.wait(uuid, 'stopped', 'shutdown', t);
      expect(await d1.get(uuid)).toMatchObject({ state: 'shut off', reason: 'shutdown' });

      // start again, then destroy
      await d1.start(uuid);
      expect(await f.state(0, uuid)).toMatch(/^running/);
      t = performance.now();
      await d1.destroy(uuid);
      const destroyReturned = performance.now();
      expect(await f.state(0, uuid)).toBe('shut off (destroyed)');
      const destroyed = await log1.wait(uuid, 'stopped', 'destroyed', t);
      f.timings['destroyedEvent'] = Math.round(destroyed.at - destroyReturned);
      expect(destroyed.at - destroyReturned).toBeLessThan(1000);
      await expect(d1.shutdown(uuid)).rejects.toMatchObject({ kind: 'Conflict' });

      // start again, then the emulator dies: the hypervisor sees it.
      await d1.start(uuid);
      const killedAt = performance.now();
      const knowableAt = await f.killEmulator(0, spec);
      const crashed = await log1.wait(uuid, 'stopped', 'failed', killedAt);
      f.timings['killToEvent'] = Math.round(crashed.at - killedAt);
      f.timings['knowableToEvent'] = Math.round(crashed.at - knowableAt);
      expect(crashed.at - knowableAt).toBeLessThan(1000);
      expect(await f.state(0, uuid)).toBe('shut off (crashed)');
      expect(await d1.get(uuid)).toMatchObject({ state: 'shut off', reason: 'crashed' });

      // undefine
      t = performance.now();
      await d1.undefine(uuid);
      expect(await f.uuids(0)).not.toContain(uuid);
      expect(await f.state(0, uuid)).toBeUndefined();
      await log1.wait(uuid, 'undefined', 'removed', t);
      expect(await d1.get(uuid)).toBeUndefined();

      // Every event of this domain, in order, each within 1 s of the hypervisor emitting it.
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
      f.timings['maxEventLag'] = Math.max(...mine.map((x) => x.lagMs));
      for (const x of mine) {
        expect({ event: `${x.e.event}/${x.e.detail}`, lagUnder1s: x.lagMs < 1000 }).toEqual({ event: `${x.e.event}/${x.e.detail}`, lagUnder1s: true });
      }
    }, 300_000);

    it('answers verbs that do not fit the state, and clashing definitions, as libvirt does', async () => {
      const spec = f.guest();
      const uuid = spec.uid;
      let t = performance.now();
      await d1.define(buildDomainXml(spec));
      expect(await d1.get(uuid)).toMatchObject({ state: 'shut off', reason: 'unknown' });

      // Another UUID under the same name: Conflict; the same UUID under a new name: libvirt says "operation failed".
      await expect(d1.define(buildDomainXml({ ...f.guest(), name: spec.name }))).rejects.toMatchObject({ kind: 'Conflict' });
      await expect(d1.define(buildDomainXml({ ...spec, name: `${spec.name}-renamed` }))).rejects.toMatchObject({ kind: 'Failed' });
      // The same UUID and name: a redefinition.
      await d1.define(buildDomainXml({ ...spec, memoryMiB: spec.memoryMiB * 2 }));
      await log1.wait(uuid, 'defined', 'updated', t);

      // Shut off: nothing runs, so nothing to pause, stop or ask about.
      for (const verb of ['jobInfo', 'abortJob', 'suspend', 'resume', 'destroy', 'shutdown'] as const) {
        expect({ verb, outcome: await d1[verb](uuid).then(() => 'ok', (e: unknown) => (e as DriverError).kind) }).toEqual({ verb, outcome: 'Conflict' });
      }
      await expect(d1.undefine(randomUUID())).rejects.toMatchObject({ kind: 'NotFound' });

      // Running: no job to report or abort; resume is refused.
      await d1.start(uuid);
      expect(await d1.jobInfo(uuid)).toEqual({ type: 'none' });
      await expect(d1.abortJob(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
      await expect(d1.resume(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
      // Migrating to itself is libvirt's "internal error"; to a host nobody answers at, Unavailable.
      await expect(d1.migrate(uuid, { destinationURI: f.uris[0] })).rejects.toMatchObject({ kind: 'Failed' });
      await expect(d1.migrate(uuid, { destinationURI: f.unreachableURI, timeoutSeconds: 30 })).rejects.toMatchObject({ kind: 'Unavailable' });
      expect(await f.state(0, uuid)).toMatch(/^running/);

      // Paused: pausing again is fine (and says nothing); start and ACPI shutdown are refused.
      t = performance.now();
      await d1.suspend(uuid);
      await d1.suspend(uuid);
      expect(await d1.get(uuid)).toMatchObject({ state: 'paused', reason: 'user' });
      await expect(d1.start(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
      await expect(d1.shutdown(uuid)).rejects.toMatchObject({ kind: 'Conflict' });
      await d1.resume(uuid);
      expect(await d1.get(uuid)).toMatchObject({ state: 'running', reason: 'unpaused' });
      await log1.wait(uuid, 'resumed', 'unpaused', t);
      expect(log1.events.filter((x) => x.at >= t && x.e.uuid === uuid && x.e.event === 'suspended')).toHaveLength(1);

      await d1.destroy(uuid);
      await d1.undefine(uuid);
      expect(await f.uuids(0)).not.toContain(uuid);
    }, 120_000);

    it('live-migrates a running guest from host 1 to host 2; jobInfo, abortJob and the timeout work on the way', async () => {
      const spec = f.guest();
      const uuid = spec.uid;
      await d1.define(buildDomainXml(spec));
      await d1.start(uuid);
      await f.guestUp(0, spec);

      // Intermittent failures here (a job that never showed progress) carry the hosts' evidence.
      const evidence = f.withMigrationEvidence ?? (<T>(_s: DomainSpec, step: () => Promise<T>) => step());
      const t = await evidence(spec, async () => {
        // A throttled migration shows progress in jobInfo and stops on abortJob.
        const slow = d1.migrate(uuid, { destinationURI: f.uris[1], bandwidthMiBps: 4 });
        const progress = await waitUntil('migration job', 20_000, async () => {
          const j = await d1.jobInfo(uuid);
          return j.type === 'unbounded' && (j.dataProcessedBytes ?? 0) > 0 ? j : undefined;
        }, 20);
        expect(progress).toMatchObject({ type: 'unbounded', operation: 'migration-out' });
        expect(progress.dataTotalBytes).toBeGreaterThan(spec.memoryMiB * 1024 * 1024);
        await d1.abortJob(uuid);
        await expect(slow).rejects.toBeInstanceOf(DriverError);
        expect(await f.state(0, uuid)).toMatch(/^running/);
        expect(await f.uuids(1)).not.toContain(uuid);

        // The timeout aborts (it does not pause the guest into completing).
        await expect(d1.migrate(uuid, { destinationURI: f.uris[1], bandwidthMiBps: 4, timeoutSeconds: 2 })).rejects.toMatchObject({
          kind: 'Failed',
          message: expect.stringContaining('did not finish within 2 s'),
        });
        expect(await f.state(0, uuid)).toMatch(/^running/);
        expect(await f.uuids(1)).not.toContain(uuid);

        // The real one.
        const check = f.watchMigration ? await f.watchMigration(spec) : async () => undefined;
        const started = performance.now();
        await timed('migration', () => d1.migrate(uuid, { destinationURI: f.uris[1], autoConverge: true, maxDowntimeMs: 300, timeoutSeconds: 120 }));
        await check();
        return started;
      });

      // Exactly one host has it, running, persistent.
      expect(await f.uuids(0)).not.toContain(uuid);
      expect(await f.uuids(1)).toContain(uuid);
      expect(await f.state(1, uuid)).toBe('running (migrated)');
      expect(await d1.get(uuid)).toBeUndefined();
      expect(await d2.get(uuid)).toMatchObject({ state: 'running', persistent: true });
      await log1.wait(uuid, 'stopped', 'migrated', t);
      await log2.wait(uuid, 'resumed', 'migrated', t);
      // The order libvirt reports a completed migration in, on each side.
      const since = (log: EventLog, wanted: string[]) =>
        log.events.filter((x) => x.at >= t && x.e.uuid === uuid).map((x) => `${x.e.event}/${x.e.detail}`).filter((e) => wanted.includes(e));
      expect(since(log1, ['suspended/migrated', 'stopped/migrated', 'undefined/removed'])).toEqual(['suspended/migrated', 'stopped/migrated']);
      expect(since(log2, ['started/migrated', 'defined/added', 'resumed/migrated'])).toEqual(['started/migrated', 'defined/added', 'resumed/migrated']);

      await d2.destroy(uuid);
      await d2.undefine(uuid);
    }, 300_000);

    it('maps specs the hypervisor rejects to InvalidSpec and leaves the host unchanged', async () => {
      const before = await f.uuids(0);
      const err = await d1.define(buildDomainXml(f.guest({ machine: 'pc-bogus-9' }))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect(err).toMatchObject({ kind: 'InvalidSpec' });
      expect(await f.uuids(0)).toEqual(before);

      // Malformed XML and XML without a UUID never define anything either.
      await expect(d1.define('<domain type="qemu"><name>x</name>')).rejects.toMatchObject({ kind: 'InvalidSpec' });
      await expect(d1.define('<domain type="qemu"><name>x</name></domain>')).rejects.toMatchObject({ kind: 'InvalidSpec' });
      expect(await f.uuids(0)).toEqual(before);

      // A disk that does not exist: the definition is accepted, the start refused.
      const missing = f.guest({ disks: [{ name: 'root', path: f.missingDiskPath(), format: 'qcow2', bus: 'virtio' }] });
      await d1.define(buildDomainXml(missing));
      await expect(d1.start(missing.uid)).rejects.toMatchObject({ kind: 'InvalidSpec', message: expect.stringContaining(f.missingDiskPath()) });
      expect(await f.state(0, missing.uid)).toMatch(/^shut off/);
      await d1.undefine(missing.uid);
      expect(await f.uuids(0)).toEqual(before);

      // Names that are not UUIDs are refused before anything runs.
      await expect(d1.start('--help')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    }, 120_000);

    it('refuses to start a disk on host 2 while host 1 runs it (LeaseHeld), and allows it once host 1 stopped', async () => {
      const disk = await f.sharedDisk('disk1');
      const spec = f.guest({ disks: [{ name: 'root', path: disk.path, format: 'qcow2', bus: 'virtio' }] });
      const xml = buildDomainXml(spec);
      await d1.define(xml);
      await d2.define(xml);
      await d1.start(spec.uid);
      expect(await f.state(0, spec.uid)).toMatch(/^running/);

      const err = await d2.start(spec.uid).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect(err).toMatchObject({ kind: 'LeaseHeld' });
      expect(await f.state(1, spec.uid)).toMatch(/^shut off/);
      await disk.whileInUse?.();

      // Once host 1's guest is gone, host 2 may run it.
      await d1.destroy(spec.uid);
      await d2.start(spec.uid);
      expect(await f.state(1, spec.uid)).toMatch(/^running/);
      await d2.destroy(spec.uid);
      await d1.undefine(spec.uid);
      await d2.undefine(spec.uid);
      await disk.remove();
    }, 120_000);
  });
}
