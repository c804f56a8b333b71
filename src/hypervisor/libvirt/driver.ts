/**
 * The libvirt {@link HypervisorDriver}: every verb is one `virsh -c <uri>`
 * command run through execFile.
 *
 * Why virsh rather than libvirt's RPC protocol: there is no native binding
 * to build, it is the same CLI operators use to debug a host, and argv-only
 * invocation leaves no string to inject into.
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
import { parseCapabilities, parseNodeInfoMemory, parseVersion } from './parse-host.js';
import { checkUuid, Virsh } from './virsh.js';

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
}

/** Extra time virsh migrate gets beyond the caller's timeout before it is killed. */
const MIGRATE_GRACE_MS = 60_000;

/** `undefined` instead of a NotFound error; other errors pass. */
async function unlessNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof DriverError && err.kind === 'NotFound') return undefined;
    throw err;
  }
}

/** {@link HypervisorDriver} on libvirt, through virsh. */
/** Separates the domains' sections in a batched virsh run (not a valid domain name or UUID). */
const BATCH_MARKER = '@@drover-domain@@';

/** One domain's section of a batched list: its UUID line, domstate, dominfo and inactive XML. */
function parseBatchSection(section: string): DomainInfo | undefined {
  const xmlStart = section.indexOf('<domain');
  const xmlEnd = section.lastIndexOf('</domain>');
  if (xmlStart < 0 || xmlEnd < 0) return undefined;
  // With -q, virsh's echo ends without a newline: the section starts with the
  // UUID immediately followed by domstate's line.
  const head = section.slice(0, xmlStart).replace(/^\s*[0-9a-fA-F-]{36}/, '').split('\n');
  const stateLine = head.find((l) => l.trim() !== '') ?? '';
  const infoText = head.filter((l) => l.includes(':')).join('\n');
  try {
    const info = parseDomInfo(infoText);
    const { state, reason } = parseDomState(stateLine);
    return {
      uuid: info.uuid,
      name: info.name,
      state,
      ...(reason ? { reason } : {}),
      persistent: info.persistent,
      // As dumpxml prints it (with its final newline), so list() and get() agree.
      xml: `${section.slice(xmlStart, xmlEnd + '</domain>'.length)}\n`,
    };
  } catch {
    return undefined;
  }
}

export class LibvirtDriver implements HypervisorDriver {
  private readonly virsh: Virsh;
  private readonly acceleration: Acceleration;
  private readonly kvmDevice: string;
  private readonly log: EventStreamLogger | undefined;
  private readonly names: DomainNameCache;

  /** @throws DriverError `InvalidSpec` for a malformed URI or acceleration. */
  constructor(options: LibvirtDriverOptions) {
    this.virsh = new Virsh(options.uri, options.virshBinary);
    this.acceleration = options.acceleration ?? 'auto';
    if (!['auto', 'kvm', 'tcg'].includes(this.acceleration)) {
      throw new DriverError('InvalidSpec', `acceleration must be auto, kvm or tcg, got ${String(this.acceleration)}`);
    }
    this.kvmDevice = options.kvmDevice ?? KVM_DEVICE;
    this.log = options.log;
    this.names = new DomainNameCache(async () => parseUuidNameList(await this.virsh.run(['list', '--all', '--uuid', '--name'])));
  }

  /** The libvirt URI this driver talks to. */
  get uri(): string {
    return this.virsh.uri;
  }

  async capabilities(): Promise<HostCapabilities> {
    const kvmProbe: Promise<KvmProbe | undefined> =
      this.acceleration === 'tcg' ? Promise.resolve(undefined) : probeKvm(this.virsh, this.kvmDevice);
    const [caps, nodeinfo, version, kvm] = await Promise.all([
      this.virsh.run(['capabilities']),
      this.virsh.run(['nodeinfo']),
      this.virsh.run(['version']),
      kvmProbe,
    ]);
    if (this.acceleration === 'kvm' && !kvm?.usable) {
      throw new DriverError('Unavailable', `KVM acceleration required but not usable: ${kvm?.reason ?? 'unknown'}`);
    }
    return {
      ...parseCapabilities(caps),
      memoryBytes: parseNodeInfoMemory(nodeinfo),
      hypervisorType: kvm?.usable ? 'kvm' : 'qemu',
      ...parseVersion(version),
    };
  }

  /**
   * Every domain, in two virsh processes whatever their number: the UUIDs,
   * then one batch inspecting them all. A virsh process and its connection
   * cost tens of milliseconds, far more than the commands themselves, so one
   * process per domain and command made a list of 20 VMs take over a second.
   * The batch is virsh's own command language (not a shell); the only values
   * in it are UUIDs, each validated as hex before use.
   */
  async list(): Promise<DomainInfo[]> {
    const uuids = parseUuidList(await this.virsh.run(['list', '--all', '--uuid'])).map(checkUuid);
    if (uuids.length === 0) return [];
    const batch = uuids
      .map((id) => `echo ${BATCH_MARKER} ${id}; domstate --reason --domain ${id}; dominfo --domain ${id}; dumpxml --inactive --domain ${id}`)
      .join('; ');
    // Domains that vanish mid-batch make virsh print an error and exit non-zero
    // after running the rest; their sections simply lack the XML.
    const out = await this.virsh.run([batch], { allowFailure: true });
    const found: DomainInfo[] = [];
    for (const section of out.split(`${BATCH_MARKER} `).slice(1)) {
      const parsed = parseBatchSection(section);
      if (parsed === undefined) continue;
      this.names.remember(parsed.name, parsed.uuid);
      found.push(parsed);
    }
    return found;
  }

  async get(uuid: string): Promise<DomainInfo | undefined> {
    const id = checkUuid(uuid);
    const infoOut = await unlessNotFound(this.virsh.run(['dominfo', '--domain', id]));
    if (infoOut === undefined) return undefined;
    const info = parseDomInfo(infoOut);
    const [stateOut, xml] = await Promise.all([
      unlessNotFound(this.virsh.run(['domstate', '--reason', '--domain', id])),
      unlessNotFound(this.virsh.run(['dumpxml', '--inactive', '--domain', id])),
    ]);
    if (stateOut === undefined || xml === undefined) return undefined;
    this.names.remember(info.name, info.uuid);
    const { state, reason } = parseDomState(stateOut);
    return { uuid: info.uuid, name: info.name, state, ...(reason ? { reason } : {}), persistent: info.persistent, xml };
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
      await this.virsh.run(['migrate-setmaxdowntime', '--domain', id, '--downtime', String(options.maxDowntimeMs)]);
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
      await this.virsh.run(args, { timeoutMs: timeoutMs > 0 ? timeoutMs + MIGRATE_GRACE_MS : 0 });
    } catch (err) {
      if (timedOut) {
        throw new DriverError('Failed', `migration of ${id} did not finish within ${options.timeoutSeconds} s and was aborted`);
      }
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async jobInfo(uuid: string): Promise<JobInfo> {
    return parseJobInfoRaw(await this.virsh.run(['domjobinfo', '--rawstats', '--domain', checkUuid(uuid)]));
  }

  async abortJob(uuid: string): Promise<void> {
    await this.virsh.run(['domjobabort', '--domain', checkUuid(uuid)]);
  }

  /**
   * Lifecycle events, from a supervised `virsh event` child (see
   * event-stream.ts). Domain names are resolved to UUIDs through a cache
   * that list()/get() also keep fresh.
   */
  events(signal: AbortSignal): AsyncIterable<DomainEvent> {
    return lifecycleEvents({
      virsh: this.virsh,
      resolve: (line) => this.names.resolve(line.name, line.event),
      onConnect: () => {
        this.names.refresh().catch(() => undefined);
      },
      signal,
      ...(this.log ? { log: this.log } : {}),
    });
  }
}
