/**
 * In-memory fakes of the hypervisor driver and the storage manager for the
 * agent's tests. Both record every call, so tests can assert that a request
 * changed nothing (no mutating call) or that a repeat made no second call.
 */
import { parseDomainXml } from '../../../../src/hypervisor/domainxml/index.js';
import {
  DriverError,
  type DomainEvent,
  type DomainInfo,
  type DomainName,
  type DomainState,
  type HostCapabilities,
  type HypervisorDriver,
  type JobInfo,
  type MigrationOptions,
} from '../../../../src/hypervisor/driver.js';
import type {
  DomainMetadata,
  DomainRoot,
  DomainStatus,
  StorageConnection,
  StorageManager,
  VolumeInfo,
} from '../../../../src/agent/storage/types.js';

/** A recorded call. */
export interface Call {
  method: string;
  args: unknown[];
}

const DRIVER_MUTATING = new Set(['define', 'start', 'shutdown', 'destroy', 'suspend', 'resume', 'undefine', 'migrate', 'abortJob']);
const STORAGE_MUTATING = new Set(['connect', 'disconnect', 'format', 'createVolume', 'resizeVolume', 'deleteVolume']);

interface FakeDomain {
  uuid: string;
  name: string;
  state: DomainState;
  reason?: string;
  persistent: boolean;
  xml: string;
}

interface Deferred {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Plain libvirt XML of a domain Drover did not create (no Drover metadata). */
export function foreignXml(uuid: string, name: string): string {
  return `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory unit='KiB'>524288</memory><vcpu>1</vcpu><devices/></domain>`;
}

/** An in-memory hypervisor. */
export class FakeDriver implements HypervisorDriver {
  readonly calls: Call[] = [];
  readonly domains = new Map<string, FakeDomain>();
  caps: HostCapabilities = {
    hostUUID: '00000000-0000-4000-8000-0000000000aa',
    cpu: { model: 'Skylake-Server', vendor: 'Intel', sockets: 1, cores: 4, threads: 2, flags: ['vmx', 'sse4_2'] },
    memoryBytes: 16 * 1024 ** 3,
    hypervisorType: 'kvm',
    libvirtVersion: '9.0.0',
    qemuVersion: '7.2.0',
  };
  /** What the guest does with an ACPI shutdown. */
  shutdownBehavior: 'obey' | 'ignore' = 'obey';
  shutdownDelayMs = 30;
  /** Errors thrown by the next call of a method (once). */
  readonly failNext = new Map<string, Error>();
  readonly pendingMigrations = new Map<string, Deferred>();
  jobProgress: JobInfo = { type: 'unbounded', operation: 'Outgoing migration', elapsedMs: 1200, dataTotalBytes: 1000, dataProcessedBytes: 400, dataRemainingBytes: 600 };
  private readonly listeners = new Set<(e: DomainEvent) => void>();

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const err = this.failNext.get(method);
    if (err !== undefined) {
      this.failNext.delete(method);
      throw err;
    }
  }

  /** Calls that change something. */
  mutatingCalls(): Call[] {
    return this.calls.filter((c) => DRIVER_MUTATING.has(c.method));
  }

  /** Delivers an event to every open events() stream. */
  emit(uuid: string, event: string, detail = ''): void {
    const name = this.domains.get(uuid)?.name ?? 'unknown';
    for (const l of this.listeners) l({ uuid, name, event, detail, time: new Date().toISOString() });
  }

  /** Adds a domain without Drover metadata. */
  addForeign(uuid: string, name: string, state: DomainState = 'running'): void {
    this.domains.set(uuid, { uuid, name, state, persistent: true, xml: foreignXml(uuid, name) });
  }

  private must(uuid: string): FakeDomain {
    const d = this.domains.get(uuid);
    if (d === undefined) throw new DriverError('NotFound', `Domain not found: no domain with matching uuid '${uuid}'`);
    return d;
  }

  private set(d: FakeDomain, state: DomainState, event: string, detail: string): void {
    d.state = state;
    this.emit(d.uuid, event, detail);
  }

  async capabilities(): Promise<HostCapabilities> {
    this.record('capabilities');
    return structuredClone(this.caps);
  }
  async list(): Promise<DomainInfo[]> {
    this.record('list');
    return [...this.domains.values()].map((d) => ({ ...d }));
  }
  async names(): Promise<DomainName[]> {
    this.record('names');
    return [...this.domains.values()].map((d) => ({ uuid: d.uuid, name: d.name }));
  }
  async get(uuid: string): Promise<DomainInfo | undefined> {
    this.record('get', uuid);
    const d = this.domains.get(uuid);
    return d === undefined ? undefined : { ...d };
  }
  async define(xml: string): Promise<void> {
    this.record('define', xml);
    const p = parseDomainXml(xml);
    const existing = this.domains.get(p.uuid);
    if (existing !== undefined) existing.xml = xml;
    else this.domains.set(p.uuid, { uuid: p.uuid, name: p.name, state: 'shut off', persistent: true, xml });
    this.emit(p.uuid, 'defined', existing ? 'updated' : 'added');
  }
  async start(uuid: string): Promise<void> {
    this.record('start', uuid);
    const d = this.must(uuid);
    if (d.state !== 'shut off') throw new DriverError('Conflict', 'Requested operation is not valid: domain is already running');
    this.set(d, 'running', 'started', 'booted');
  }
  async shutdown(uuid: string): Promise<void> {
    this.record('shutdown', uuid);
    const d = this.must(uuid);
    if (d.state === 'shut off') throw new DriverError('Conflict', 'domain is not running');
    if (this.shutdownBehavior === 'obey') {
      setTimeout(() => {
        if (d.state !== 'shut off') this.set(d, 'shut off', 'stopped', 'shutdown');
      }, this.shutdownDelayMs);
    }
  }
  async destroy(uuid: string): Promise<void> {
    this.record('destroy', uuid);
    const d = this.must(uuid);
    if (d.state === 'shut off') throw new DriverError('Conflict', 'domain is not running');
    this.set(d, 'shut off', 'stopped', 'destroyed');
  }
  async suspend(uuid: string): Promise<void> {
    this.record('suspend', uuid);
    const d = this.must(uuid);
    if (d.state !== 'running') throw new DriverError('Conflict', 'domain is not running');
    this.set(d, 'paused', 'suspended', 'paused');
  }
  async resume(uuid: string): Promise<void> {
    this.record('resume', uuid);
    const d = this.must(uuid);
    if (d.state !== 'paused') throw new DriverError('Conflict', 'domain is not paused');
    this.set(d, 'running', 'resumed', 'unpaused');
  }
  async undefine(uuid: string): Promise<void> {
    this.record('undefine', uuid);
    const d = this.must(uuid);
    if (d.state !== 'shut off') throw new DriverError('Conflict', 'cannot undefine a running domain');
    this.domains.delete(uuid);
    this.emit(uuid, 'undefined', 'removed');
  }
  migrate(uuid: string, options: MigrationOptions): Promise<void> {
    try {
      this.record('migrate', uuid, options);
      this.must(uuid);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.pendingMigrations.set(uuid, {
        resolve: () => {
          this.pendingMigrations.delete(uuid);
          const d = this.domains.get(uuid);
          if (d !== undefined) {
            this.set(d, 'shut off', 'stopped', 'migrated');
            this.domains.delete(uuid);
          }
          resolve();
        },
        reject: (e) => {
          this.pendingMigrations.delete(uuid);
          reject(e);
        },
      });
    });
  }
  async jobInfo(uuid: string): Promise<JobInfo> {
    this.record('jobInfo', uuid);
    this.must(uuid);
    return { ...this.jobProgress };
  }
  async abortJob(uuid: string): Promise<void> {
    this.record('abortJob', uuid);
    const m = this.pendingMigrations.get(uuid);
    if (m === undefined) throw new DriverError('Conflict', 'no job is active on the domain');
    m.reject(new DriverError('Failed', 'operation aborted: migration job: canceled by client'));
  }
  async *events(signal: AbortSignal): AsyncIterable<DomainEvent> {
    const queue: DomainEvent[] = [];
    let wake: (() => void) | undefined;
    const listener = (e: DomainEvent) => {
      queue.push(e);
      wake?.();
    };
    this.listeners.add(listener);
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
    }
  }
}

interface FakeStorageDomain {
  name: string;
  connected: boolean;
  root: string;
  metadata?: DomainMetadata;
  volumes: Map<string, VolumeInfo>;
  files: Set<string>;
  health: NonNullable<DomainStatus['health']>;
}

/** An in-memory storage manager. */
export class FakeStorage implements StorageManager {
  /** Connection type per domain, for locate(). */
  private readonly types = new Map<string, StorageConnection['type']>();
  readonly calls: Call[] = [];
  readonly domains = new Map<string, FakeStorageDomain>();
  readonly failNext = new Map<string, Error>();

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const err = this.failNext.get(method);
    if (err !== undefined) {
      this.failNext.delete(method);
      throw err;
    }
  }

  /** Calls that change something. */
  mutatingCalls(): Call[] {
    return this.calls.filter((c) => STORAGE_MUTATING.has(c.method));
  }

  /** Test setup: a connected domain at `/srv/<name>` with files and volumes, without recording calls. */
  seed(
    name: string,
    opts: { files?: string[]; volumes?: { name: string; sizeBytes: number; format?: 'qcow2' | 'raw' }[]; type?: StorageConnection['type'] } = {},
  ): void {
    const root = `/srv/${name}`;
    this.types.set(name, opts.type ?? 'PosixFS');
    const d: FakeStorageDomain = {
      name,
      connected: true,
      root,
      volumes: new Map(),
      files: new Set(opts.files ?? []),
      health: { ok: true, readLatencyMs: 1, writeLatencyMs: 2, checkedAt: new Date(0).toISOString() },
    };
    this.domains.set(name, d);
    for (const v of opts.volumes ?? []) d.volumes.set(v.name, this.volume(d, v.name, v.sizeBytes, v.format ?? 'qcow2'));
  }

  /** Test setup: changes a domain's health verdict. */
  setHealth(name: string, ok: boolean, error?: string): void {
    const d = this.domains.get(name);
    if (d === undefined) throw new Error(`no domain ${name}`);
    d.health = { ok, readLatencyMs: ok ? 1 : 5000, writeLatencyMs: ok ? 2 : 5000, checkedAt: new Date().toISOString() };
    if (error !== undefined) d.health.error = error;
  }

  private volume(d: FakeStorageDomain, name: string, size: number, format: 'qcow2' | 'raw'): VolumeInfo {
    return { name, domain: d.name, format, virtualSizeBytes: size, actualSizeBytes: format === 'raw' ? size : 196_608, path: `${d.root}/images/${name}.${format}` };
  }

  private status_(d: FakeStorageDomain): DomainStatus {
    const s: DomainStatus = { name: d.name, connected: d.connected };
    if (d.metadata !== undefined) s.metadata = { ...d.metadata };
    if (d.connected) {
      s.capacity = { totalBytes: 100 * 1024 ** 3, freeBytes: 60 * 1024 ** 3 };
      s.health = { ...d.health };
    }
    return s;
  }

  private connectedDomain(name: string): FakeStorageDomain {
    const d = this.domains.get(name);
    if (d === undefined || !d.connected) throw new DriverError('NotFound', `storage domain ${name} is not connected`);
    return d;
  }

  async connect(name: string, connection: StorageConnection): Promise<DomainStatus> {
    this.record('connect', name, connection);
    const existing = this.domains.get(name);
    const d: FakeStorageDomain = existing ?? {
      name,
      connected: true,
      root: connection.path,
      volumes: new Map(),
      files: new Set(),
      health: { ok: true, readLatencyMs: 1, writeLatencyMs: 2, checkedAt: new Date(0).toISOString() },
    };
    d.connected = true;
    this.domains.set(name, d);
    this.types.set(name, connection.type);
    return this.status_(d);
  }
  async disconnect(name: string): Promise<void> {
    this.record('disconnect', name);
    const d = this.domains.get(name);
    if (d !== undefined) d.connected = false;
  }
  async format(name: string, metadata: Omit<DomainMetadata, 'version' | 'createdAt'>): Promise<DomainMetadata> {
    this.record('format', name, metadata);
    const d = this.connectedDomain(name);
    d.metadata = { ...metadata, version: 1, createdAt: '2026-01-01T00:00:00.000Z' };
    return { ...d.metadata };
  }
  async status(name: string): Promise<DomainStatus> {
    this.record('status', name);
    const d = this.domains.get(name);
    if (d === undefined) throw new DriverError('NotFound', `unknown storage domain ${name}`);
    return this.status_(d);
  }
  async list(): Promise<DomainStatus[]> {
    this.record('list');
    return [...this.domains.values()].map((d) => this.status_(d));
  }
  async roots(): Promise<DomainRoot[]> {
    this.record('roots');
    return [...this.domains.values()].filter((d) => d.connected).map((d) => ({ name: d.name, root: d.root, attached: true }));
  }
  async createVolume(domain: string, volume: string, sizeBytes: number, format: 'qcow2' | 'raw' = 'qcow2'): Promise<VolumeInfo> {
    this.record('createVolume', domain, volume, sizeBytes, format);
    const d = this.connectedDomain(domain);
    if (d.volumes.has(volume)) throw new DriverError('Conflict', `volume ${volume} exists`);
    const v = this.volume(d, volume, sizeBytes, format);
    d.volumes.set(volume, v);
    return { ...v };
  }
  async resizeVolume(domain: string, volume: string, sizeBytes: number): Promise<VolumeInfo> {
    this.record('resizeVolume', domain, volume, sizeBytes);
    const v = this.connectedDomain(domain).volumes.get(volume);
    if (v === undefined) throw new DriverError('NotFound', `no volume ${volume}`);
    v.virtualSizeBytes = sizeBytes;
    return { ...v };
  }
  async deleteVolume(domain: string, volume: string): Promise<void> {
    this.record('deleteVolume', domain, volume);
    this.connectedDomain(domain).volumes.delete(volume);
  }
  async getVolume(domain: string, volume: string): Promise<VolumeInfo | undefined> {
    this.record('getVolume', domain, volume);
    const v = this.connectedDomain(domain).volumes.get(volume);
    return v === undefined ? undefined : { ...v };
  }
  async listVolumes(domain: string): Promise<VolumeInfo[]> {
    this.record('listVolumes', domain);
    return [...this.connectedDomain(domain).volumes.values()].map((v) => ({ ...v }));
  }
  async locate(path: string): Promise<{ domain: string; type: StorageConnection['type'] } | undefined> {
    for (const d of this.domains.values()) {
      if (d.connected && path.startsWith(`${d.root}/`)) return { domain: d.name, type: this.types.get(d.name) ?? 'PosixFS' };
    }
    return undefined;
  }

  async resolveFile(domain: string, relativePath: string): Promise<string> {
    this.record('resolveFile', domain, relativePath);
    const d = this.connectedDomain(domain);
    if (relativePath.split('/').includes('..')) throw new DriverError('InvalidSpec', `path ${relativePath} escapes the domain`);
    if (!d.files.has(relativePath)) throw Object.assign(new Error(`ENOENT: no such file ${relativePath}`), { code: 'ENOENT' });
    return `${d.root}/${relativePath}`;
  }
}
