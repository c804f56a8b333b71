/** Storage verbs: connecting and formatting storage domains, and disk volumes. */
import { z } from 'zod';
import { agentName, hostPath, timestamp, uuid } from './common.js';

const mountOptions = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9_=.,:/@-]*$/, 'must be a comma-separated list of mount options');

/** How this host reaches a storage domain. */
export const storageConnection = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('LocalFS'), path: hostPath }),
  z.strictObject({
    type: z.literal('PosixFS'),
    path: hostPath,
    vfsType: z.string().regex(/^[a-z0-9._-]{1,32}$/, 'must be a file system type such as ext4').optional(),
    mountOptions: mountOptions.optional(),
  }),
  z.strictObject({
    type: z.literal('NFS'),
    server: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$/, 'must be a host name or IP address'),
    path: hostPath,
    mountOptions: mountOptions.optional(),
  }),
]);
/** A storage connection. */
export type StorageConnectionBody = z.infer<typeof storageConnection>;

/** `PUT /v1/storage/domains/{name}` */
export const connectStorageRequest = z.strictObject({ connection: storageConnection });
/** Connect request. */
export type ConnectStorageRequest = z.infer<typeof connectStorageRequest>;

/** Storage domain roles, as oVirt's. */
export const storageRole = z.enum(['Data', 'ISO', 'HostedEngine']);

/** `POST /v1/storage/domains/{name}/format` */
export const formatStorageRequest = z.strictObject({ uuid, role: storageRole });
/** Format request. */
export type FormatStorageRequest = z.infer<typeof formatStorageRequest>;

/** Identity written on a formatted domain. */
export const storageMetadata = z.object({
  uuid: z.string(),
  name: z.string(),
  role: storageRole,
  version: z.int(),
  createdAt: timestamp,
});
/** Storage domain metadata. */
export type StorageMetadata = z.infer<typeof storageMetadata>;

/** One storage domain as this host sees it. */
export const storageDomainStatus = z.object({
  name: z.string(),
  connected: z.boolean(),
  metadata: storageMetadata.optional(),
  capacity: z.object({ totalBytes: z.number().nonnegative(), freeBytes: z.number().nonnegative() }).optional(),
  health: z
    .object({
      ok: z.boolean(),
      readLatencyMs: z.number(),
      writeLatencyMs: z.number(),
      checkedAt: timestamp,
      error: z.string().optional(),
    })
    .optional(),
  /**
   * This host's own storage heartbeat on the domain (see
   * `storageHeartbeatList`). A failed write also turns `health.ok` false
   * with the error, so anything that judges storage by its health (the
   * host's NonOperational check) sees it.
   */
  heartbeat: z
    .object({
      ok: z.boolean(),
      /** Last sequence number written (0: none yet). */
      seq: z.int().nonnegative(),
      /** When the last successful write happened (this host's clock). */
      writtenAt: timestamp.optional(),
      error: z.string().optional(),
    })
    .optional(),
});
/** Storage domain status. */
export type StorageDomainStatusResponse = z.infer<typeof storageDomainStatus>;

/** `GET /v1/storage/domains` */
export const storageDomainList = z.object({ items: z.array(storageDomainStatus) });
/** Storage domain list. */
export type StorageDomainListResponse = z.infer<typeof storageDomainList>;

/** `DELETE /v1/storage/domains/{name}` */
export const disconnectStorageResponse = z.object({ name: z.string(), connected: z.literal(false) });
/** Disconnect answer. */
export type DisconnectStorageResponse = z.infer<typeof disconnectStorageResponse>;

/** Smallest volume: 1 MiB. */
export const MIN_VOLUME_BYTES = 1024 * 1024;
/** Largest volume: 64 TiB. */
export const MAX_VOLUME_BYTES = 64 * 1024 ** 4;

/**
 * A volume size. A multiple of 512 because images are sized in sectors:
 * any other number would be rounded up by qemu-img, and a repeated PUT of
 * the same request would then look like a different size.
 */
export const volumeSize = z
  .int()
  .min(MIN_VOLUME_BYTES, `must be at least ${MIN_VOLUME_BYTES} bytes (1 MiB)`)
  .max(MAX_VOLUME_BYTES, `must be at most ${MAX_VOLUME_BYTES} bytes (64 TiB)`)
  .refine((n) => n % 512 === 0, { message: 'must be a multiple of 512 bytes' });

/** Image formats. */
export const volumeFormat = z.enum(['qcow2', 'raw']);

/** `PUT /v1/storage/domains/{name}/volumes/{volume}`: idempotent create. */
export const createVolumeRequest = z.strictObject({ sizeBytes: volumeSize, format: volumeFormat.default('qcow2') });
/** Create-volume request. */
export type CreateVolumeRequest = z.input<typeof createVolumeRequest>;

/** `POST /v1/storage/domains/{name}/volumes/{volume}/resize`: grow only. */
export const resizeVolumeRequest = z.strictObject({ sizeBytes: volumeSize });
/** Resize request. */
export type ResizeVolumeRequest = z.infer<typeof resizeVolumeRequest>;

/** A volume. */
export const volumeInfo = z.object({
  name: z.string(),
  domain: z.string(),
  format: volumeFormat,
  virtualSizeBytes: z.number().nonnegative(),
  actualSizeBytes: z.number().nonnegative(),
  path: z.string(),
});
/** A volume. */
export type VolumeInfoResponse = z.infer<typeof volumeInfo>;

/** `GET /v1/storage/domains/{name}/volumes` */
export const volumeList = z.object({ items: z.array(volumeInfo) });
/** Volume list. */
export type VolumeListResponse = z.infer<typeof volumeList>;

/** `DELETE /v1/storage/domains/{name}/volumes/{volume}` */
export const deleteVolumeResponse = z.object({ domain: z.string(), name: z.string(), deleted: z.literal(true) });
/** Delete-volume answer. */
export type DeleteVolumeResponse = z.infer<typeof deleteVolumeResponse>;

/** Path parameters. */
export const storageDomainParams = z.strictObject({ name: agentName });
/** Path parameters of volume routes. */
export const volumeParams = z.strictObject({ name: agentName, volume: agentName });

/**
 * One host's storage heartbeat as a reader sees it. `seq`, `bootId` and
 * `writtenAt` are what the writer put in its file; `ageSeconds` is measured
 * by the reading agent alone: the time, on the reader's monotonic clock,
 * since it first saw the current (bootId, seq). Neither host's wall clock
 * enters it, so clock skew between hosts cannot make a live host look dead
 * or a dead one alive. A heartbeat first seen by a reader that just started
 * counts from then: its age may understate, never overstate, the truth.
 */
export const storageHeartbeat = z.object({
  host: z.string(),
  bootId: z.string(),
  seq: z.int().nonnegative(),
  writtenAt: timestamp,
  ageSeconds: z.number().nonnegative(),
});
/** A storage heartbeat. */
export type StorageHeartbeat = z.infer<typeof storageHeartbeat>;

/** `GET /v1/storage/domains/{name}/heartbeats` */
export const storageHeartbeatList = z.object({ items: z.array(storageHeartbeat) });
/** Heartbeats of every host on one storage domain. */
export type StorageHeartbeatList = z.infer<typeof storageHeartbeatList>;
