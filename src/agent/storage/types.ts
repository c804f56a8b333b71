/**
 * The storage side of the host agent (VDSM's storage verbs): connecting
 * storage domains, formatting them, health probes, and disk volumes. Every
 * path the agent touches is derived from a connected domain's root and a
 * validated name, so no request can reach a file outside them.
 */

/** How to reach a storage domain from this host. */
export type StorageConnection =
  | { type: 'LocalFS'; path: string }
  | { type: 'PosixFS'; path: string; vfsType?: string; mountOptions?: string }
  | { type: 'NFS'; server: string; path: string; mountOptions?: string };

/** Identity written in a formatted domain's metadata (oVirt's dom_md/metadata). */
export interface DomainMetadata {
  uuid: string;
  name: string;
  role: 'Data' | 'ISO' | 'HostedEngine';
  version: number;
  createdAt: string;
}

/** A connected domain's state on this host. */
export interface DomainStatus {
  name: string;
  connected: boolean;
  /** Present once formatted. */
  metadata?: DomainMetadata;
  capacity?: { totalBytes: number; freeBytes: number };
  /** Last health probe (read/write latency of the metadata area, as VDSM's domain monitor). */
  health?: { ok: boolean; readLatencyMs: number; writeLatencyMs: number; checkedAt: string; error?: string };
  /** This host's storage heartbeat on the domain (added by the agent's heartbeat loop, see src/agent/heartbeat). */
  heartbeat?: { ok: boolean; seq: number; writtenAt?: string; error?: string };
}

/** A connected domain's root directory, without any probe. */
export interface DomainRoot {
  name: string;
  /** Directory holding the domain (the path, or the mount point for NFS). */
  root: string;
  /** Whether the storage is there now (mounted, directory present). */
  attached: boolean;
}

/** A disk volume. */
export interface VolumeInfo {
  name: string;
  domain: string;
  format: 'qcow2' | 'raw';
  virtualSizeBytes: number;
  actualSizeBytes: number;
  /** Absolute path, for domain XML. */
  path: string;
}

/** Storage verbs. Names are DNS-1123 labels; anything else is rejected. */
export interface StorageManager {
  connect(name: string, connection: StorageConnection): Promise<DomainStatus>;
  disconnect(name: string): Promise<void>;
  /** Writes metadata and the layout on a connected, empty domain; idempotent for the same uuid. */
  format(name: string, metadata: Omit<DomainMetadata, 'version' | 'createdAt'>): Promise<DomainMetadata>;
  status(name: string): Promise<DomainStatus>;
  list(): Promise<DomainStatus[]>;
  /** Every connected domain's root, cheaply (no health probe): for loops that run every few seconds. */
  roots(): Promise<DomainRoot[]>;
  createVolume(domain: string, volume: string, sizeBytes: number, format?: 'qcow2' | 'raw'): Promise<VolumeInfo>;
  resizeVolume(domain: string, volume: string, sizeBytes: number): Promise<VolumeInfo>;
  deleteVolume(domain: string, volume: string): Promise<void>;
  getVolume(domain: string, volume: string): Promise<VolumeInfo | undefined>;
  listVolumes(domain: string): Promise<VolumeInfo[]>;
  /** The connected domain holding `path` (an absolute path), and how it is connected; undefined if none. */
  locate(path: string): Promise<{ domain: string; type: StorageConnection['type'] } | undefined>;
  /** Absolute path of a file inside a connected domain (kernel, initrd, ISO); rejects traversal. */
  resolveFile(domain: string, relativePath: string): Promise<string>;
}
