/**
 * A {@link StorageManager} whose status answers carry this host's storage
 * heartbeat (see {@link StorageHeartbeats.overlay}). Everything that reports
 * storage (the API's storage verbs, the health watch's events) goes through
 * it, so a failing heartbeat shows wherever storage health does.
 *
 * @packageDocumentation
 */
import type { DomainMetadata, DomainRoot, DomainStatus, StorageConnection, StorageManager, VolumeInfo } from '../storage/types.js';
import type { StorageHeartbeats } from './service.js';

/** Decorates `status` and `list`; every other verb passes through unchanged. */
export class HeartbeatReportingStorage implements StorageManager {
  constructor(
    private readonly inner: StorageManager,
    private readonly heartbeats: Pick<StorageHeartbeats, 'overlay'>,
  ) {}

  async status(name: string): Promise<DomainStatus> {
    return this.heartbeats.overlay(await this.inner.status(name));
  }
  async list(): Promise<DomainStatus[]> {
    return (await this.inner.list()).map((s) => this.heartbeats.overlay(s));
  }

  connect(name: string, connection: StorageConnection): Promise<DomainStatus> {
    return this.inner.connect(name, connection).then((s) => this.heartbeats.overlay(s));
  }
  disconnect(name: string): Promise<void> {
    return this.inner.disconnect(name);
  }
  format(name: string, metadata: Omit<DomainMetadata, 'version' | 'createdAt'>): Promise<DomainMetadata> {
    return this.inner.format(name, metadata);
  }
  roots(): Promise<DomainRoot[]> {
    return this.inner.roots();
  }
  createVolume(domain: string, volume: string, sizeBytes: number, format?: 'qcow2' | 'raw'): Promise<VolumeInfo> {
    return this.inner.createVolume(domain, volume, sizeBytes, format);
  }
  resizeVolume(domain: string, volume: string, sizeBytes: number): Promise<VolumeInfo> {
    return this.inner.resizeVolume(domain, volume, sizeBytes);
  }
  deleteVolume(domain: string, volume: string): Promise<void> {
    return this.inner.deleteVolume(domain, volume);
  }
  getVolume(domain: string, volume: string): Promise<VolumeInfo | undefined> {
    return this.inner.getVolume(domain, volume);
  }
  listVolumes(domain: string): Promise<VolumeInfo[]> {
    return this.inner.listVolumes(domain);
  }
  locate(path: string): Promise<{ domain: string; type: StorageConnection['type'] } | undefined> {
    return this.inner.locate(path);
  }
  resolveFile(domain: string, relativePath: string): Promise<string> {
    return this.inner.resolveFile(domain, relativePath);
  }
}
