/**
 * The libvirt {@link HypervisorDriver}: every verb is virsh commands, run in
 * one of a few long-lived virsh sessions (a reused process and libvirtd
 * connection; see session.ts), except a migration and its job control,
 * which get a `virsh -c <uri>` process of their own through execFile.
 *
 * Why virsh rather than libvirt's RPC protocol: there is no native binding
 * to build, it is the same CLI operators use to debug a host, and commands
 * are argv arrays (or, in a session, lines of tokens checked to mean the
 * same), which leaves no string to inject into.
 *
 * @packageDocumentation
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DriverError,
  type DomainEvent,
  type DomainInfo,
  type DomainName,
  type HostCapabilities,
  type HypervisorDriver,
  type JobInfo,
  type MigrationOptions,
} from '../driver.js';
import { lifecycleEvents, type EventStreamLogger } from './event-stream.js';
import { KVM_DEVICE, probeKvm, type KvmProbe } from './kvm.js';
import { buildMigrateArgs } from './migrate-args.js';
import { DomainNameCache } from './name-cache.js';
import { domainXmlUuid, parseDomInfo, parseDomState, parseJobInfoRaw, parseUuidList, parseUuidNameList } from './parse-domain.js';
import { domcapsUsableCpuModels, parseCapabilities, parseNodeInfoMemory, parseVersion } from './parse-host.js';
import { checkUuid, Virsh, type CommandOutcome } from './virsh.js';

/** How the driver picks the hypervisor type it reports. */
export type Acceleration = 'auto' | 'kvm' | 'tcg';

/** Options of {@link LibvirtDriver}. */
export interface LibvirtDriverOptions {
  /** libvirt connection URI, e.g. `qemu:///system` or `qemu+tcp://10.0.0.11/system`. */
  uri: string;
  /**
   * `auto` (default): KVM when usable, else TCG. `tcg`: always report
   * `qemu`, even where KVM works. `kvm`: require KVM; capabilities() fails
   * with `Unavailable` when it is not usable.
   */
  acceleration?: Acceleration;
  /** virsh program (default `virsh` from PATH). */
  virshBinary?: string;
  /** KVM device to probe (default /dev/kvm). */
  kvmDevice?: string;
  /** Receives event-stream restarts and dropped events. */
  log?: EventStreamLogger;
  /**
   * Most long-lived virsh sessions on the connection (default
   * DEFAULT_VIRSH_SESSIONS); 0 runs every command in its own virsh process.
   */
  sessions?: number;
}

/** Extra time virsh migrate gets beyond the caller's timeout before it is killed. */
const MIGRATE_GRACE_MS = 60_000;

/** The three commands that describe a domain, for get() and list(). */
function describeCommands(id: string): string[][] {
  return [
    ['dominfo', '--domain', id],
    ['domstate', '--reason', '--domain', id],
    ['dumpxml', '--inactive', '--domain', id],
  ];
}

/**
 * A {@link DomainInfo} from the outcomes of {@link describeCommands};
 * `undefined` when the domain does not exist (or vanished between the
 * commands).
 *
 * @throws DriverError any other failure.
 */
function domainFrom(outcomes: readonly CommandOutcome[]): DomainInfo | undefined {
  const [info, state, xml] = outcomes;
  if (info === undefined || state === undefined || xml === undefined) throw new DriverError('Failed', 'virsh answered fewer commands than asked');
  for (const o of [info, state, xml]) if (!o.ok && o.error.kind === 'NotFound') return undefined;
  for (const o of [info, state, xml]) if (!o.ok) throw o.error;
  if (!info.ok || !state.ok || !xml.ok) return undefined; // unreachable: narrows the types
  const parsed = parseDomInfo(info.stdout);
  const { state: st, reason } = parseDomState(state.stdout);
  return { uuid: parsed.uuid, name: parsed.name, state: st, ...(reason ? { reason } : {}), persistent: parsed.persistent, xml: xml.stdout };
}

/** {@link HypervisorDriver} on libvirt, through virsh. */
export class LibvirtDriver implements HypervisorDriver {
  private readonly virsh: Virsh;
  private readonly acceleration: Acceleration;
  private readonly kvmDevice: string;
  private readonly log: EventStreamLogger | undefined;
  private readonly nameCache: DomainNameCache;

  /** @throws DriverError `InvalidSpec` for a malformed URI or acceleration. */
  constructor(options: LibvirtDriverOptions) {
    this.virsh = new Virsh(options.uri, options.virshBinary, options.sessions === undefined ? {} : { sessions: options.sessions });
    this.acceleration = options.acceleration ?? 'auto';
    if (!['auto', 'kvm', 'tcg'].includes(this.acceleration)) {
      throw new DriverError('InvalidSpec', `acceleration must be auto, kvm or tcg, got ${String(this.acceleration)}`);
    }
    this.kvmDevice = options.kvmDevice ?? KVM_DEVICE;
    this.log = options.log;
    this.nameCache = new DomainNameCache(async () => parseUuidNameList(await this.virsh.run(['list', '--all', '--uuid', '--name'])));
  }

  /** The libvirt URI this driver talks to. */
  get uri(): string {
    return this.virsh.uri;
  }

  /** Ends the driver's virsh sessions (idle ones do not keep Node.js running, so this is for tidy shutdowns and tests). */
  close(): Promise<void> {
    return this.virsh.close();
  }

  async capabilities(): Promise<HostCapabilities> {
    const kvmProbe: Promise<KvmProbe | undefined> =
      this.acceleration === 'tcg' ? Promise.resolve(undefined) : probeKvm(this.virsh, this.kvmDevice);
    const [outcomes, kvm] = await Promise.all([this.virsh.batch([['capabilities'], ['nodeinfo'], ['version']]), kvmProbe]);
    const [caps, nodeinfo, version] = outcomes.map((o) => {
      if (!o.ok) throw o.error;
      return o.stdout;
    }) as [string, string, string];
    if (this.acceleration === 'kvm' && !kvm?.usable) {
      throw new DriverError('Unavailable', `KVM acceleration required but not usable: ${kvm?.reason ?? 'unknown'}`);
    }
    const hypervisorType = kvm?.usable ? 'kvm' : 'qemu';
    const cpuModels = await this.usableCpuModels(hypervisorType);
    return {
      ...parseCapabilities(caps),
      memoryBytes: parseNodeInfoMemory(nodeinfo),
      hypervisorType,
      ...parseVersion(version),
      ...(cpuModels ? { cpuModels } : {}),
    };
  }

  /**
   * The named CPU models usable under `virttype`, or undefined when libvirt
   * cannot say: the scheduler then lets the start decide, as before.
   */
  private async usableCpuModels(virttype: 'kvm' | 'qemu'): Promise<string[] | undefined> {
    try {
      return domcapsUsableCpuModels(await this.virsh.run(['domcapabilities', '--virttype', virttype]));
    } catch (err) {
      if (err instanceof DriverError && err.kind === 'Unavailable') throw err;
      this.log?.warn({ err }, 'virsh domcapabilities failed: CPU models not reported');
      return undefined;
    }
  }

  /**
   * Every domain, in two requests whatever their number: the UUIDs, then
   * one batch inspecting them all. A round trip to virsh and libvirtd costs
   * far more than the commands themselves. The only values in the batch are
   * UUIDs, each validated as hex before use. A domain that vanished between
   * the two requests is left out; any other failure fails the list (leaving
   * a domain out would tell the caller it is gone).
   */
  async list(): Promise<DomainInfo[]> {
    const uuids = parseUuidList(await this.virsh.run(['list', '--all', '--uuid'])).map(checkUuid);
    if (uuids.length === 0) return [];
    const outcomes = await this.virsh.batch(uuids.flatMap(describeCommands));
    const found: DomainInfo[] = [];
    uuids.forEach((_, i) => {
      const domain = domainFrom(outcomes.slice(i * 3, i * 3 + 3));
      if (domain === undefined) return;
      this.nameCache.remember(domain.name, domain.uuid);
      found.push(domain);
    });
    return found;
  }

  /** One `virsh list --all --uuid --name`, whatever the number of domains. */
  async names(): Promise<DomainName[]> {
    const table = parseUuidNameList(await this.virsh.run(['list', '--all', '--uuid', '--name']));
    const found: DomainName[] = [];
    for (const [name, uuid] of table) {
      this.nameCache.remember(name, uuid);
      found.push({ uuid, name });
    }
    return found;
  }

  /** The domain's info, state and inactive XML in one request; `undefined` when there is no such domain. */
  async get(uuid: string): Promise<DomainInfo | undefined> {
    const domain = domainFrom(await this.virsh.batch(describeCommands(checkUuid(uuid))));
    if (domain !== undefined) this.nameCache.remember(domain.name, domain.uuid);
    return domain;
  }

  /**
   * Defines the domain from a private temporary file (directory 0700, file
   * 0600: the XML may carry paths and kernel command lines) that is removed
   * again whatever happens.
   *
   * @throws DriverError `InvalidSpec` when the XML has no `<uuid>`: libvirt
   *   would invent one, and the caller could never address the domain.
   */
  async define(xml: string): Promise<void> {
    if (domainXmlUuid(xml) === undefined) throw new DriverError('InvalidSpec', 'domain XML has no <uuid>');
    const dir = await mkdtemp(path.join(tmpdir(), 'drover-define-'));
    try {
      const file = path.join(dir, 'domain.xml');
      await writeFile(file, xml, { mode: 0o600, flag: 'wx' });
      await this.virsh.run(['define', '--file', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async start(uuid: string): Promise<void> {
    await this.virsh.run(['start', '--domain', checkUuid(uuid)]);
  }

  async shutdown(uuid: string): Promise<void> {
    await this.virsh.run(['shutdown', '--domain', checkUuid(uuid), '--mode', 'acpi']);
  }

  async destroy(uuid: string): Promise<void> {
    await this.virsh.run(['destroy', '--domain', checkUuid(uuid)]);
  }

  async suspend(uuid: string): Promise<void> {
    await this.virsh.run(['suspend', '--domain', checkUuid(uuid)]);
  }

  async resume(uuid: string): Promise<void> {
    await this.virsh.run(['resume', '--domain', checkUuid(uuid)]);
  }

  /**
   * @throws DriverError `Conflict` unless the domain is shut off: libvirt
   *   would turn a running domain transient, and it would vanish, untracked,
   *   when it stops.
   */
  async undefine(uuid: string): Promise<void> {
    const id = checkUuid(uuid);
    const { state } = parseDomState(await this.virsh.run(['domstate', '--reason', '--domain', id]));
    if (state !== 'shut off') throw new DriverError('Conflict', `domain ${id} is ${state}; stop it before undefining`);
    await this.virsh.run(['undefine', '--domain', id]);
  }

  /**
   * Live peer-to-peer migration (see {@link buildMigrateArgs}). The
   * timeout aborts the job (`domjobabort`) instead of pausing the guest.
   *
   * @throws DriverError `Failed` when the timeout aborted the migration.
   */
  async migrate(uuid: string, options: MigrationOptions): Promise<void> {
    const id = checkUuid(uuid);
    const args = buildMigrateArgs(id, options);
    if (options.maxDowntimeMs !== undefined) {
      if (!Number.isInteger(options.maxDowntimeMs) || options.maxDowntimeMs <= 0) {
        throw new DriverError('InvalidSpec', `maxDowntimeMs must be a positive integer, got ${options.maxDowntimeMs}`);
      }
      // A QEMU migration parameter: set on the source before the job starts, it applies to it.
      await this.virsh.exec(['migrate-setmaxdowntime', '--domain', id, '--downtime', String(options.maxDowntimeMs)]);
    }
    const timeoutMs = options.timeoutSeconds !== undefined && options.timeoutSeconds > 0 ? options.timeoutSeconds * 1000 : 0;
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            this.abortJob(id).catch(() => undefined);
          }, timeoutMs)
        : undefined;
    try {
      // Its own process: it runs for minutes and must not hold up a session.
      await this.virsh.exec(args, { timeoutMs: timeoutMs > 0 ? timeoutMs + MIGRATE_GRACE_MS : 0 });
    } catch (err) {
      if (timedOut) {
        throw new DriverError('Failed', `migration of ${id} did not finish within ${options.timeoutSeconds} s and was aborted`);
      }
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** In its own process, like migrate(): it runs alongside one and must not wait behind other requests. */
  async jobInfo(uuid: string): Promise<JobInfo> {
    return parseJobInfoRaw(await this.virsh.exec(['domjobinfo', '--rawstats', '--domain', checkUuid(uuid)]));
  }

  /** In its own process, like migrate(): the emergency brake must not wait behind other requests. */
  async abortJob(uuid: string): Promise<void> {
    await this.virsh.exec(['domjobabort', '--domain', checkUuid(uuid)]);
  }

  /**
   * Lifecycle events, from a supervised `virsh event` child (see
   * event-stream.ts). Domain names are resolved to UUIDs through a cache
   * that list()/get() also keep fresh.
   */
  events(signal: AbortSignal): AsyncIterable<DomainEvent> {
    return lifecycleEvents({
      virsh: this.virsh,
      resolve: (line) => this.nameCache.resolve(line.name, line.event),
      onConnect: () => {
        this.nameCache.refresh().catch(() => undefined);
      },
      signal,
      ...(this.log ? { log: this.log } : {}),
    });
  }
}
