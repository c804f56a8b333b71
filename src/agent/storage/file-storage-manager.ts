/**
 * {@link StorageManager} for file-based storage domains (LocalFS, PosixFS,
 * NFS): connections recorded in `<stateDir>/domains.json`, the layout of
 * layout.ts, volumes through qemu-img, capacity through statfs.
 *
 * @packageDocumentation
 */
import { mkdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../../hypervisor/driver.js';
import { writeFileAtomic } from './atomic-file.js';
import { attach, isAttached } from './attach.js';
import { DOM_MD, IMAGES, METADATA_FILE, METADATA_VERSION, findFormatted, type FormattedDomain } from './layout.js';
import { mountAt, umount } from './mounts.js';
import { checkConnection, checkName, checkUuid, sameConnection } from './names.js';
import { probeDomain } from './probe.js';
import { loadRegistry, saveRegistry, type DomainRecord } from './registry.js';
import { isInside, resolveExisting } from './safe-path.js';
import type { DomainMetadata, DomainRoot, DomainStatus, StorageConnection, StorageManager, VolumeInfo } from './types.js';
import * as volumes from './volumes.js';

/** Options of {@link FileStorageManager}. */
export interface FileStorageManagerOptions {
  /** Agent state directory: holds domains.json and the NFS mount points (`mnt/<name>`). */
  stateDir: string;
  /** Whether the agent may run `mount`/`umount` for NFS and PosixFS-with-vfsType domains (default true). */
  mount?: boolean;
  /** Time limit of each health-probe step (default 10 s). */
  probeTimeoutMs?: number;
}

const ROLES: ReadonlySet<string> = new Set(['Data', 'ISO', 'HostedEngine']);

/** File-based {@link StorageManager}. */
export class FileStorageManager implements StorageManager {
  private readonly stateDir: string;
  private readonly allowMount: boolean;
  private readonly probeTimeoutMs: number | undefined;
  private records: Promise<Map<string, DomainRecord>> | undefined;
  /** Serialises changes to the set of connected domains and to formats. */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(options: FileStorageManagerOptions) {
    this.stateDir = path.resolve(options.stateDir);
    this.allowMount = options.mount ?? true;
    this.probeTimeoutMs = options.probeTimeoutMs;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  /**
   * The recorded domains, loaded once. Mount-backed domains that are not
   * mounted any more (the host rebooted, the agent restarted) are mounted
   * again here; a failure leaves them recorded but not connected.
   */
  private load(): Promise<Map<string, DomainRecord>> {
    this.records ??= (async () => {
      const recs = await loadRegistry(this.stateDir);
      for (const rec of recs.values()) {
        if (rec.mountedByUs && !(await isAttached(rec))) {
          await attach(rec.name, rec.connection, { stateDir: this.stateDir, allowMount: this.allowMount }).catch(() => undefined);
        }
      }
      return recs;
    })();
    // A failed load (e.g. unreadable domains.json) is retried on the next call, not cached.
    this.records.catch(() => {
      this.records = undefined;
    });
    return this.records;
  }

  private async record(name: string): Promise<DomainRecord> {
    checkName('storage domain name', name);
    const rec = (await this.load()).get(name);
    if (!rec) throw new DriverError('NotFound', `storage domain ${name} is not connected`);
    return rec;
  }

  /** The record of a connected domain whose storage is reachable now. */
  private async attached(name: string): Promise<DomainRecord> {
    const rec = await this.record(name);
    if (!(await isAttached(rec))) throw new DriverError('Unavailable', `storage of domain ${name} is not reachable at ${rec.root}`);
    return rec;
  }

  /** The one formatted domain under a root, if any. */
  private async formatted(rec: DomainRecord): Promise<FormattedDomain | undefined> {
    return (await findFormatted(rec.root))[0];
  }

  private async area(name: string): Promise<volumes.VolumeArea> {
    const rec = await this.attached(name);
    const f = await this.formatted(rec);
    if (!f) throw new DriverError('NotFound', `storage domain ${name} is not formatted`);
    return { domain: name, root: rec.root, uuid: f.uuid };
  }

  async connect(name: string, connection: StorageConnection): Promise<DomainStatus> {
    checkName('storage domain name', name);
    checkConnection(connection);
    await this.serial(async () => {
      const recs = await this.load();
      const existing = recs.get(name);
      if (existing && !sameConnection(existing.connection, connection)) {
        throw new DriverError('Conflict', `storage domain ${name} is already connected with a different connection`);
      }
      const rec = await attach(name, connection, { stateDir: this.stateDir, allowMount: this.allowMount });
      for (const other of recs.values()) {
        // Two names for one directory would let each be formatted and probed as if it were alone.
        if (other.name !== name && (isInside(other.root, rec.root) || isInside(rec.root, other.root))) {
          throw new DriverError('Conflict', `${rec.root} overlaps storage domain ${other.name} (${other.root})`);
        }
      }
      recs.set(name, { ...rec, mountedByUs: rec.mountedByUs || (existing?.mountedByUs ?? false) });
      await saveRegistry(this.stateDir, recs);
    });
    return this.status(name);
  }

  /** Forgets a domain, unmounting it when this agent mounted it. Unknown names are a no-op. */
  async disconnect(name: string): Promise<void> {
    checkName('storage domain name', name);
    await this.serial(async () => {
      const recs = await this.load();
      const rec = recs.get(name);
      if (!rec) return;
      if (rec.mountedByUs && (await mountAt(rec.root))) await umount(rec.root);
      recs.delete(name);
      await saveRegistry(this.stateDir, recs);
    });
  }

  /**
   * Writes `<root>/<uuid>/dom_md/metadata` (atomically) and creates
   * `<root>/<uuid>/images/`. Idempotent for the same uuid, name and role.
   *
   * @throws DriverError `Conflict` when the root already holds another
   *   domain, or this uuid with another name or role.
   */
  async format(name: string, metadata: Omit<DomainMetadata, 'version' | 'createdAt'>): Promise<DomainMetadata> {
    const uuid = checkUuid(metadata.uuid);
    checkName('storage domain metadata name', metadata.name);
    if (!ROLES.has(metadata.role)) throw new DriverError('InvalidSpec', `role must be Data, ISO or HostedEngine, got ${JSON.stringify(metadata.role)}`);
    const rec = await this.attached(name);
    return this.serial(async () => {
      const found = await findFormatted(rec.root);
      const other = found.find((f) => f.uuid !== uuid);
      if (other) throw new DriverError('Conflict', `${rec.root} is already formatted as storage domain ${other.uuid} (${other.metadata.name})`);
      const same = found[0];
      if (same) {
        if (same.metadata.name !== metadata.name || same.metadata.role !== metadata.role) {
          throw new DriverError('Conflict', `storage domain ${uuid} exists as ${same.metadata.name}/${same.metadata.role}`);
        }
        await mkdir(path.join(same.dir, IMAGES), { recursive: true, mode: 0o755 });
        return same.metadata;
      }
      await mkdir(path.join(rec.root, uuid, DOM_MD), { recursive: true, mode: 0o755 });
      await mkdir(path.join(rec.root, uuid, IMAGES), { recursive: true, mode: 0o755 });
      // A symlink planted at <root>/<uuid> would have sent the writes elsewhere: check before writing.
      const domMd = await resolveExisting(rec.root, path.join(uuid, DOM_MD));
      await resolveExisting(rec.root, path.join(uuid, IMAGES));
      const full: DomainMetadata = { uuid, name: metadata.name, role: metadata.role, version: METADATA_VERSION, createdAt: new Date().toISOString() };
      await writeFileAtomic(path.join(domMd, METADATA_FILE), `${JSON.stringify(full, null, 2)}\n`);
      return full;
    });
  }

  /**
   * Connection state, capacity (statfs of the root: total = f_blocks,
   * free = f_bavail, what `df` shows as size and available), metadata, and
   * a fresh health probe when formatted.
   */
  async status(name: string): Promise<DomainStatus> {
    const rec = await this.record(name);
    const status: DomainStatus = { name, connected: await isAttached(rec) };
    if (!status.connected) return status;
    const fs = await statfs(rec.root);
    status.capacity = { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
    const f = await this.formatted(rec);
    if (f) {
      status.metadata = f.metadata;
      status.health = await probeDomain(f.dir, this.probeTimeoutMs);
    }
    return status;
  }

  async list(): Promise<DomainStatus[]> {
    const names = [...(await this.load()).keys()].sort();
    return Promise.all(names.map((n) => this.status(n)));
  }

  async roots(): Promise<DomainRoot[]> {
    const recs = [...(await this.load()).values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    return Promise.all(recs.map(async (r) => ({ name: r.name, root: r.root, attached: await isAttached(r) })));
  }

  async createVolume(domain: string, volume: string, sizeBytes: number, format: 'qcow2' | 'raw' = 'qcow2'): Promise<VolumeInfo> {
    return volumes.createVolume(await this.area(domain), volume, sizeBytes, format);
  }

  async resizeVolume(domain: string, volume: string, sizeBytes: number): Promise<VolumeInfo> {
    return volumes.resizeVolume(await this.area(domain), volume, sizeBytes);
  }

  async deleteVolume(domain: string, volume: string): Promise<void> {
    return volumes.deleteVolume(await this.area(domain), volume);
  }

  async getVolume(domain: string, volume: string): Promise<VolumeInfo | undefined> {
    return volumes.getVolume(await this.area(domain), volume);
  }

  async listVolumes(domain: string): Promise<VolumeInfo[]> {
    return volumes.listVolumes(await this.area(domain));
  }

  async locate(path: string): Promise<{ domain: string; type: StorageConnection['type'] } | undefined> {
    for (const rec of (await this.load()).values()) {
      if (isInside(rec.root, path)) return { domain: rec.name, type: rec.connection.type };
    }
    return undefined;
  }

  /**
   * The real path of `relativePath` under the domain's root. The file must
   * exist; `..`, absolute paths and symlinks leading out of the root are
   * refused (`InvalidSpec`).
   */
  async resolveFile(domain: string, relativePath: string): Promise<string> {
    const rec = await this.attached(domain);
    return resolveExisting(rec.root, relativePath);
  }
}
