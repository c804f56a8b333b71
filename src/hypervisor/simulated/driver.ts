/**
 * A simulated {@link HypervisorDriver}: in-memory domains with libvirt's
 * states, reasons, lifecycle events and errors, and the latencies measured
 * on the real libvirt driver.
 *
 * **For control-plane scale benchmarks only** (Kubernetes' hollow nodes):
 * it lets 100 agents run in one process. It is never a stand-in for the
 * real driver in functional tests; what it promises is checked by running
 * the libvirt driver's own contract suite against it
 * (test/support/driver-contract.ts), so its figures mean something.
 *
 * Errors carry libvirt's own messages and are classified by the libvirt
 * driver's rules (classifyLibvirtError), so the agent sees the same kinds.
 *
 * @packageDocumentation
 */
import { access } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { type DomainName,
  DriverError,
  type DomainEvent,
  type DomainInfo,
  type DomainState,
  type HostCapabilities,
  type HypervisorDriver,
  type JobInfo,
  type MigrationOptions,
} from '../driver.js';
import { classifyLibvirtError } from '../libvirt/errors.js';
import { buildMigrateArgs } from '../libvirt/migrate-args.js';
import { checkUuid } from '../libvirt/virsh.js';
import { lockedResources, readDefinition, type SimulatedDefinition } from './definition.js';
import { SimulatedEventBus } from './event-bus.js';
import { SimulatedFabric } from './fabric.js';
import { MEASURED_LIBVIRT_LATENCIES, MEASURED_MIGRATION_MIBPS, scaleLatencies, type SimulatedLatencies } from './latencies.js';
import { MigrationJob } from './migration-job.js';

/** Options of {@link SimulatedDriver}. */
export interface SimulatedDriverOptions {
  /** The URI this host answers at in the fabric (migration destinations use it), e.g. `sim://host-1/system`. */
  uri: string;
  /** The in-process world shared with the other simulated hosts. */
  fabric: SimulatedFabric<SimulatedDriver>;
  /** Multiplies every latency: 1 (default) is real time, 0 answers at once (tests). */
  latencyScale?: number;
  /** Per-verb overrides of {@link MEASURED_LIBVIRT_LATENCIES}, before scaling. */
  latencies?: Partial<SimulatedLatencies>;
  /** Unthrottled migration copy rate in MiB/s, before scaling (default {@link MEASURED_MIGRATION_MIBPS}). */
  migrationMiBps?: number;
  /** Host facts to report instead of the defaults (a 2 × 16-core, 256 GiB KVM host). */
  capabilities?: Partial<HostCapabilities>;
  /** What guests do with an ACPI shutdown request once booted: power off (default) or ignore it. */
  guestAcpi?: 'obey' | 'ignore';
}

/** A defined domain in the simulator. */
interface SimDomain {
  /** The definition the domain runs with (or will start with, when shut off). */
  def: SimulatedDefinition;
  /** A redefinition made while running: it takes effect at the next start, as libvirt's inactive config does. */
  nextDef?: SimulatedDefinition;
  xml: string;
  state: DomainState;
  reason: string;
  /** Counts starts, so a timer set during one run cannot act on the next. */
  run: number;
  /** When the guest started listening to ACPI (performance.now() time). */
  acpiReadyAt: number;
  migration?: MigrationJob;
}

/** A DriverError with libvirt's message and the kind the libvirt driver would give it. */
function libvirtError(message: string): DriverError {
  return new DriverError(classifyLibvirtError(message), message);
}

const notRunning = (): DriverError => libvirtError('Requested operation is not valid: domain is not running');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function active(d: SimDomain): boolean {
  return d.state !== 'shut off';
}

/** See the module comment: in-memory domains for scale benchmarks, never for functional tests. */
export class SimulatedDriver implements HypervisorDriver {
  /** This host's URI in the fabric. */
  readonly uri: string;
  private readonly fabric: SimulatedFabric<SimulatedDriver>;
  private readonly latency: SimulatedLatencies;
  private readonly migrationBytesPerMs: number;
  private readonly caps: HostCapabilities;
  private readonly guestAcpi: 'obey' | 'ignore';
  private readonly domains = new Map<string, SimDomain>();
  private readonly bus: SimulatedEventBus;
  /** Set by {@link powerOff}: every call fails as against an unreachable libvirtd. */
  private dead = false;

  /** @throws Error when another simulated host already answers at `options.uri`. */
  constructor(options: SimulatedDriverOptions) {
    const scale = options.latencyScale ?? 1;
    this.uri = options.uri;
    this.fabric = options.fabric;
    this.latency = scaleLatencies({ ...MEASURED_LIBVIRT_LATENCIES, ...options.latencies }, scale);
    // Scaling time by 0 makes the copy instant; by 0.5, twice as fast.
    this.migrationBytesPerMs = scale === 0 ? Infinity : ((options.migrationMiBps ?? MEASURED_MIGRATION_MIBPS) * 1024 * 1024) / 1000 / scale;
    this.guestAcpi = options.guestAcpi ?? 'obey';
    this.caps = {
      hostUUID: randomUUID(),
      cpu: { model: 'EPYC-Rome', vendor: 'AMD', sockets: 2, cores: 16, threads: 2, flags: ['svm', 'sse4_2', 'avx2'] },
      memoryBytes: 256 * 1024 ** 3,
      hypervisorType: 'kvm',
      libvirtVersion: '9.0.0',
      qemuVersion: '7.2.0',
      cpuModels: ['EPYC', 'EPYC-Rome', 'Nehalem', 'Opteron_G3', 'Westmere', 'kvm64', 'qemu64'],
      ...options.capabilities,
    };
    this.bus = new SimulatedEventBus(() => this.latency.event);
    this.fabric.register(this);
  }

  async capabilities(): Promise<HostCapabilities> {
    await this.takes('capabilities');
    return structuredClone(this.caps);
  }

  async list(): Promise<DomainInfo[]> {
    await this.takes('list');
    return [...this.domains.values()].map((d) => this.info(d));
  }

  /** One listing, as `virsh list --all --uuid --name` (priced as a list). */
  async names(): Promise<DomainName[]> {
    await this.takes('list');
    return [...this.domains.values()].map((d) => ({ uuid: d.def.uuid, name: d.def.name }));
  }

  async get(uuid: string): Promise<DomainInfo | undefined> {
    const id = checkUuid(uuid);
    await this.takes('get');
    const d = this.domains.get(id);
    return d === undefined ? undefined : this.info(d);
  }

  /**
   * Defines or redefines (same UUID, same name) a persistent domain. A
   * redefinition of a running domain changes what `get()` returns (the
   * inactive XML), as in libvirt, and nothing of the running guest.
   */
  async define(xml: string): Promise<void> {
    const def = readDefinition(xml, this.caps);
    await this.takes('define');
    const existing = this.domains.get(def.uuid);
    for (const other of this.domains.values()) {
      if (other.def.name === def.name && other.def.uuid !== def.uuid) {
        throw libvirtError(`operation failed: domain '${def.name}' already exists with uuid ${other.def.uuid}`);
      }
    }
    if (existing !== undefined && existing.def.name !== def.name) {
      throw libvirtError(`operation failed: domain '${existing.def.name}' is already defined with uuid ${def.uuid}`);
    }
    if (existing !== undefined) {
      existing.xml = xml;
      // The running guest keeps its memory and disks; the next start uses the new definition.
      if (active(existing)) existing.nextDef = def;
      else existing.def = def;
      this.bus.emit(def.uuid, def.name, 'defined', 'updated');
      return;
    }
    this.domains.set(def.uuid, { def, xml, state: 'shut off', reason: 'unknown', run: 0, acpiReadyAt: Infinity });
    this.bus.emit(def.uuid, def.name, 'defined', 'added');
  }

  /**
   * Starts a shut-off domain. Like QEMU, it needs every disk image to exist
   * and takes a write lock on each writable one, fabric-wide: a disk another
   * host's domain runs on is refused with `LeaseHeld`.
   */
  async start(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    await this.takes('start');
    const d = this.must(id);
    if (active(d)) throw libvirtError('Domain is already active');
    if (d.nextDef !== undefined) {
      d.def = d.nextDef;
      delete d.nextDef;
    }
    for (const path of d.def.diskPaths) {
      try {
        await access(path);
      } catch {
        throw libvirtError(`Cannot access storage file '${path}': No such file or directory`);
      }
    }
    // Re-read after the awaits: another call may have started it meanwhile.
    if (active(d) || this.domains.get(id) !== d) throw libvirtError('Requested operation is not valid: domain is already running');
    const held = this.fabric.lock(lockedResources(d.def), { uri: this.uri, uuid: id });
    if (held !== undefined) {
      // A lease is refused by virtlockd before QEMU runs; a disk by QEMU's own image lock.
      if (d.def.leases.includes(held)) throw libvirtError(`resource busy: Lockspace resource '${held.slice(held.lastIndexOf('/') + 1)}' is locked`);
      throw libvirtError(
        `internal error: qemu unexpectedly closed the monitor: qemu-system-x86_64: Failed to get "write" lock: Is another process using the image [${held}]?`,
      );
    }
    d.state = 'running';
    d.reason = 'booted';
    d.run += 1;
    d.acpiReadyAt = performance.now() + this.latency.guestBoot;
    this.bus.emit(id, d.def.name, 'resumed', 'unpaused');
    this.bus.emit(id, d.def.name, 'started', 'booted');
  }

  /**
   * Sends the guest an ACPI power-button press; libvirt refuses it for a
   * paused guest. A booted guest powers off `guestShutdown` ms later if it
   * still runs then; a guest still booting ignores it, as a real one does.
   */
  async shutdown(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    await this.takes('shutdown');
    const d = this.must(id);
    if (d.state !== 'running') throw notRunning();
    if (this.guestAcpi === 'ignore' || performance.now() < d.acpiReadyAt) return;
    const run = d.run;
    setTimeout(() => {
      if (this.domains.get(id) !== d || d.run !== run || d.state !== 'running') return;
      this.bus.emit(id, d.def.name, 'shutdown', 'guest');
      this.stop(d, 'shutdown', 'shutdown');
    }, this.latency.guestShutdown);
  }

  /** Powers off at once; a migration under way fails. */
  async destroy(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    await this.takes('destroy');
    const d = this.must(id);
    if (!active(d)) throw notRunning();
    this.bus.emit(id, d.def.name, 'shutdown', 'host');
    this.stop(d, 'destroyed', 'destroyed');
  }

  /** Pauses the guest's CPUs; a paused domain stays paused (no event). */
  async suspend(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    await this.takes('suspend');
    const d = this.must(id);
    if (!active(d)) throw notRunning();
    if (d.state === 'paused') return;
    d.state = 'paused';
    d.reason = 'user';
    this.bus.emit(id, d.def.name, 'suspended', 'paused');
  }

  /** Resumes the guest's CPUs; libvirt refuses it for a domain that is not paused. */
  async resume(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    await this.takes('resume');
    const d = this.must(id);
    if (!active(d)) throw notRunning();
    if (d.state !== 'paused') throw libvirtError('Requested operation is not valid: domain is already running');
    d.state = 'running';
    d.reason = 'unpaused';
    this.bus.emit(id, d.def.name, 'resumed', 'unpaused');
  }

  /** @throws DriverError `Conflict` unless shut off (the libvirt driver's own rule). */
  async undefine(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    await this.takes('undefine');
    const d = this.must(id);
    if (active(d)) throw new DriverError('Conflict', `domain ${id} is ${d.state}; stop it before undefining`);
    this.domains.delete(id);
    this.bus.emit(id, d.def.name, 'undefined', 'removed');
  }

  /**
   * Live-migrates to the simulated host at `options.destinationURI`: setup,
   * then the guest's memory at the requested bandwidth (never scaled: the
   * caller asked for that rate) or the link's (scaled). On success the
   * domain, its definition and its disk locks move; on abort or timeout it
   * keeps running here.
   */
  async migrate(uuid: string, options: MigrationOptions): Promise<void> {
    const id = checkUuid(uuid);
    // The real driver's own checks of the options, so both refuse the same requests.
    buildMigrateArgs(id, options);
    if (options.maxDowntimeMs !== undefined && (!Number.isInteger(options.maxDowntimeMs) || options.maxDowntimeMs <= 0)) {
      throw new DriverError('InvalidSpec', `maxDowntimeMs must be a positive integer, got ${options.maxDowntimeMs}`);
    }
    this.alive();
    const d = this.must(id);
    if (!active(d)) throw notRunning();
    if (d.migration?.running) throw libvirtError(`Requested operation is not valid: another migration job is already running for domain '${d.def.name}'`);
    const target = this.fabric.host(options.destinationURI);
    if (target === undefined) throw libvirtError(`unable to connect to server at '${options.destinationURI}': Connection refused`);
    if (target === this) throw libvirtError(`internal error: Attempt to migrate guest to the same host ${this.caps.hostUUID}`);
    target.checkIncoming(d.def);

    const throttled = options.bandwidthMiBps !== undefined && options.bandwidthMiBps > 0;
    const job = new MigrationJob({
      memoryBytes: d.def.memoryBytes,
      bytesPerMs: throttled ? Math.min((options.bandwidthMiBps! * 1024 * 1024) / 1000, this.migrationBytesPerMs) : this.migrationBytesPerMs,
      setupMs: this.latency.migrateSetup,
    });
    d.migration = job;
    // The destination's QEMU starts (paused, incoming) at once; it shows up in its events only.
    target.incomingStarted(d.def);
    const timeoutS = options.timeoutSeconds !== undefined && options.timeoutSeconds > 0 ? options.timeoutSeconds : 0;
    const timer =
      timeoutS > 0
        ? setTimeout(() => job.abort(new DriverError('Failed', `migration of ${id} did not finish within ${timeoutS} s and was aborted`)), timeoutS * 1000)
        : undefined;
    try {
      await job.done;
      // Switch-over: the destination may have changed while memory was copied.
      if (this.domains.get(id) !== d || !active(d)) throw libvirtError('operation failed: domain is not running');
      target.checkIncoming(d.def);
    } catch (err) {
      target.incomingFailed(d.def);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
    // Events in the order libvirt 9 sent them on the test bed (src/bench/driver-latency.ts):
    // source suspended/migrated, destination defined/added and resumed/migrated,
    // source stopped/migrated; --undefinesource sends no undefined event.
    this.domains.delete(id);
    this.fabric.handOver(lockedResources(d.def), { uri: this.uri, uuid: id }, { uri: target.uri, uuid: id });
    this.bus.emit(id, d.def.name, 'suspended', 'migrated');
    target.acceptIncoming(d);
    this.bus.emit(id, d.def.name, 'stopped', 'migrated');
  }

  async jobInfo(uuid: string): Promise<JobInfo> {
    const id = checkUuid(uuid);
    await this.takes('jobInfo');
    const d = this.must(id);
    if (!active(d)) throw notRunning();
    return d.migration?.running ? d.migration.info() : { type: 'none' };
  }

  async abortJob(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    await this.takes('abortJob');
    const d = this.must(id);
    if (!active(d)) throw notRunning();
    if (!d.migration?.running) throw libvirtError('Requested operation is not valid: no job is active on the domain');
    d.migration.abort(libvirtError('operation aborted: migration out job: canceled by client'));
  }

  events(signal: AbortSignal): AsyncIterable<DomainEvent> {
    return this.bus.stream(signal);
  }

  /**
   * Fault injection: the domain's emulator dies (what `kill -9` of QEMU
   * does): shut off with reason `crashed`, event `stopped/failed`.
   */
  crash(uuid: string): void {
    const d = this.must(checkUuid(uuid));
    if (!active(d)) throw notRunning();
    this.stop(d, 'crashed', 'failed');
  }

  /**
   * Fault injection: the whole host dies. Its guests are gone without an
   * event (nobody is left to send one), their disk locks are released (the
   * processes holding them are dead), and it no longer answers migrations.
   * The driver keeps answering calls with `Unavailable` afterwards.
   */
  powerOff(): void {
    for (const d of this.domains.values()) {
      d.migration?.abort(libvirtError('Cannot recv data: Connection reset by peer'));
      this.fabric.unlock(lockedResources(d.def), { uri: this.uri, uuid: d.def.uuid });
    }
    this.domains.clear();
    this.fabric.unregister(this);
    this.dead = true;
  }

  /** Leaves the fabric (this host's URI answers no more migrations). */
  close(): void {
    this.fabric.unregister(this);
  }

  /**
   * Refuses an incoming migration of `def` as libvirt's destination would:
   * its UUID already running here, or its name taken by another domain.
   */
  private checkIncoming(def: SimulatedDefinition): void {
    this.alive();
    const same = this.domains.get(def.uuid);
    if (same !== undefined && active(same)) throw libvirtError(`Requested operation is not valid: domain '${def.name}' is already active`);
    for (const other of this.domains.values()) {
      if (other.def.name === def.name && other.def.uuid !== def.uuid) {
        throw libvirtError(`operation failed: domain '${def.name}' already exists with uuid ${other.def.uuid}`);
      }
    }
  }

  /** An incoming migration's QEMU started here (libvirt reports it before any memory is copied). */
  private incomingStarted(def: SimulatedDefinition): void {
    this.bus.emit(def.uuid, def.name, 'started', 'migrated');
  }

  /** The incoming migration failed or was aborted: its QEMU ends here. */
  private incomingFailed(def: SimulatedDefinition): void {
    this.bus.emit(def.uuid, def.name, 'stopped', 'failed');
  }

  /** Takes over a migrated domain, running, persistent, replacing an inactive definition of it. */
  private acceptIncoming(from: SimDomain): void {
    const id = from.def.uuid;
    const existed = this.domains.has(id);
    this.domains.set(id, {
      def: from.def,
      ...(from.nextDef !== undefined ? { nextDef: from.nextDef } : {}),
      xml: from.xml,
      state: 'running',
      reason: 'migrated',
      run: 1,
      acpiReadyAt: from.acpiReadyAt,
    });
    this.bus.emit(id, from.def.name, 'defined', existed ? 'updated' : 'added');
    this.bus.emit(id, from.def.name, 'resumed', 'migrated');
  }

  /** Shuts a domain off with `reason`, emitting stopped/`detail`, releasing its disks and failing its migration. */
  private stop(d: SimDomain, reason: string, detail: string): void {
    d.state = 'shut off';
    d.reason = reason;
    d.acpiReadyAt = Infinity;
    d.migration?.abort(libvirtError('operation failed: domain is not running'));
    this.fabric.unlock(lockedResources(d.def), { uri: this.uri, uuid: d.def.uuid });
    this.bus.emit(d.def.uuid, d.def.name, 'stopped', detail);
  }

  private info(d: SimDomain): DomainInfo {
    return { uuid: d.def.uuid, name: d.def.name, state: d.state, reason: d.reason, persistent: true, xml: d.xml };
  }

  private must(uuid: string): SimDomain {
    const d = this.domains.get(uuid);
    if (d === undefined) throw libvirtError(`Domain not found: no domain with matching uuid '${uuid}'`);
    return d;
  }

  /** Waits the verb's latency; a dead host answers nothing but `Unavailable`. */
  private async takes(verb: keyof SimulatedLatencies): Promise<void> {
    const ms = this.latency[verb];
    if (ms > 0) await sleep(ms);
    this.alive();
  }

  private alive(): void {
    if (this.dead) throw libvirtError(`unable to connect to server at '${this.uri}': Connection refused`);
  }
}
