/**
 * The storage verbs of the agent API over a StorageManager, made
 * idempotent: each verb reads first and calls the manager only when
 * something has to change, and refuses (409) rather than guesses when the
 * request disagrees with what is there.
 */
import {
  AgentApiError,
  type DeleteVolumeResponse,
  type DisconnectStorageResponse,
  type FormatStorageRequest,
  type StorageConnectionBody,
  type StorageDomainListResponse,
  type StorageDomainStatusResponse,
  type StorageMetadata,
  type VolumeInfoResponse,
  type VolumeListResponse,
} from '../../api/agent/index.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import type { DomainStatus, StorageConnection, StorageManager } from '../storage/types.js';
import { isActive, parseOrUndefined } from '../vms/describe.js';
import { KeyedMutex } from '../vms/keyed-mutex.js';

function sameConnection(a: StorageConnection, b: StorageConnection): boolean {
  const canon = (c: StorageConnection) => JSON.stringify(Object.entries(c).sort(([x], [y]) => (x < y ? -1 : 1)));
  return canon(a) === canon(b);
}

/** Storage verbs; `onChange` is called after a connect or disconnect (to re-check health). */
export class StorageVerbs {
  private readonly locks = new KeyedMutex();
  /** Connections made by this agent process, to tell a repeat from a different request. */
  private readonly connections = new Map<string, StorageConnection>();

  constructor(
    private readonly storage: StorageManager,
    private readonly driver: HypervisorDriver,
    private readonly onChange: () => void = () => {},
  ) {}

  /** Every storage domain known on this host. */
  async list(): Promise<StorageDomainListResponse> {
    return { items: await this.storage.list() };
  }

  /** One storage domain; 404 when unknown. */
  async get(name: string): Promise<StorageDomainStatusResponse> {
    if ((await this.find(name)) === undefined) throw notFound(name);
    return this.storage.status(name);
  }

  /** Connects; connected already with the same connection is success. */
  connect(name: string, connection: StorageConnectionBody): Promise<StorageDomainStatusResponse> {
    return this.locks.run(name, async () => {
      const current = await this.find(name);
      if (current?.connected) {
        const known = this.connections.get(name);
        if (known !== undefined && !sameConnection(known, connection)) {
          throw new AgentApiError(409, 'ConnectionMismatch', `connection: storage domain "${name}" is connected with a different connection`, 'connection');
        }
        return this.storage.status(name);
      }
      const status = await this.storage.connect(name, connection);
      this.connections.set(name, connection);
      this.onChange();
      return status;
    });
  }

  /** Disconnects; not connected is success. Refused while a running VM uses one of its volumes. */
  disconnect(name: string): Promise<DisconnectStorageResponse> {
    return this.locks.run(name, async () => {
      const current = await this.find(name);
      if (current === undefined || !current.connected) return { name, connected: false };
      const paths = new Set((await this.storage.listVolumes(name)).map((v) => v.path));
      const user = await this.domainUsing(paths, true);
      if (user !== undefined) {
        throw new AgentApiError(409, 'VolumeInUse', `storage domain "${name}" has volumes in use by running domain ${user}`);
      }
      await this.storage.disconnect(name);
      this.connections.delete(name);
      this.onChange();
      return { name, connected: false };
    });
  }

  /** Formats a connected domain; formatted already with the same uuid and role is success. */
  format(name: string, req: FormatStorageRequest): Promise<StorageMetadata> {
    return this.locks.run(name, async () => {
      await this.requireConnected(name);
      const md = (await this.storage.status(name)).metadata;
      if (md !== undefined) {
        if (md.uuid === req.uuid && md.role === req.role) return md;
        const field = md.uuid === req.uuid ? 'role' : 'uuid';
        throw new AgentApiError(409, 'AlreadyFormatted', `${field}: storage domain "${name}" is already formatted as ${md.uuid} (${md.role})`, field);
      }
      return this.storage.format(name, { uuid: req.uuid, name, role: req.role });
    });
  }

  /** Volumes of a connected domain. */
  async volumes(name: string): Promise<VolumeListResponse> {
    await this.requireConnected(name);
    return { items: await this.storage.listVolumes(name) };
  }

  /** One volume; 404 when absent. */
  async volume(name: string, volume: string): Promise<VolumeInfoResponse> {
    await this.requireConnected(name);
    const info = await this.storage.getVolume(name, volume);
    if (info === undefined) throw volumeNotFound(name, volume);
    return info;
  }

  /** Creates a volume; the same size and format again is success, anything else a 409. */
  createVolume(name: string, volume: string, sizeBytes: number, format: 'qcow2' | 'raw'): Promise<VolumeInfoResponse> {
    return this.locks.run(`${name}/${volume}`, async () => {
      await this.requireConnected(name);
      const existing = await this.storage.getVolume(name, volume);
      if (existing !== undefined) {
        if (existing.virtualSizeBytes !== sizeBytes) {
          throw new AgentApiError(
            409,
            'SizeMismatch',
            `sizeBytes: volume "${volume}" exists with ${existing.virtualSizeBytes} bytes; use resize to grow it`,
            'sizeBytes',
          );
        }
        if (existing.format !== format) {
          throw new AgentApiError(409, 'FormatMismatch', `format: volume "${volume}" exists as ${existing.format}`, 'format');
        }
        return existing;
      }
      return this.storage.createVolume(name, volume, sizeBytes, format);
    });
  }

  /** Grows a volume; the same size is success, a smaller one a 409 (shrinking loses data). */
  resizeVolume(name: string, volume: string, sizeBytes: number): Promise<VolumeInfoResponse> {
    return this.locks.run(`${name}/${volume}`, async () => {
      await this.requireConnected(name);
      const existing = await this.storage.getVolume(name, volume);
      if (existing === undefined) throw volumeNotFound(name, volume);
      if (existing.virtualSizeBytes === sizeBytes) return existing;
      if (sizeBytes < existing.virtualSizeBytes) {
        throw new AgentApiError(
          409,
          'ShrinkNotSupported',
          `sizeBytes: ${sizeBytes} is smaller than the volume's ${existing.virtualSizeBytes} bytes; volumes only grow`,
          'sizeBytes',
        );
      }
      return this.storage.resizeVolume(name, volume, sizeBytes);
    });
  }

  /** Deletes a volume; absent is success. Refused while any defined domain has it as a disk. */
  deleteVolume(name: string, volume: string): Promise<DeleteVolumeResponse> {
    return this.locks.run(`${name}/${volume}`, async () => {
      await this.requireConnected(name);
      const existing = await this.storage.getVolume(name, volume);
      if (existing === undefined) return { domain: name, name: volume, deleted: true };
      const user = await this.domainUsing(new Set([existing.path]), false);
      if (user !== undefined) throw new AgentApiError(409, 'VolumeInUse', `volume "${volume}" is a disk of domain ${user}`);
      await this.storage.deleteVolume(name, volume);
      return { domain: name, name: volume, deleted: true };
    });
  }

  private async find(name: string): Promise<DomainStatus | undefined> {
    return (await this.storage.list()).find((d) => d.name === name);
  }

  private async requireConnected(name: string): Promise<void> {
    const d = await this.find(name);
    if (d === undefined || !d.connected) throw notFound(name);
  }

  /** UUID of a domain (any, or only active ones) with a disk at one of `paths`. */
  private async domainUsing(paths: Set<string>, activeOnly: boolean): Promise<string | undefined> {
    if (paths.size === 0) return undefined;
    for (const d of await this.driver.list()) {
      if (activeOnly && !isActive(d)) continue;
      const disks = parseOrUndefined(d.xml)?.disks ?? [];
      if (disks.some((disk) => disk.path !== undefined && paths.has(disk.path))) return d.uuid;
    }
    return undefined;
  }
}

function notFound(name: string): AgentApiError {
  return new AgentApiError(404, 'NotFound', `storage domain "${name}" is not connected on this host`);
}

function volumeNotFound(domain: string, volume: string): AgentApiError {
  return new AgentApiError(404, 'NotFound', `volume "${volume}" does not exist on storage domain "${domain}"`);
}
