/** Live migration of one VM, run by the source host's agent in the background. */
import { z } from 'zod';
import { timestamp } from './common.js';

/**
 * libvirt URI of the destination host: `qemu[+tcp|+tls|+ssh]://host[:port]/system`.
 * No query string: libvirt URI parameters (key files, commands) must not come from a request.
 */
export const destinationURI = z
  .string()
  .max(512)
  .regex(
    /^qemu(\+(tcp|tls|ssh))?:\/\/([A-Za-z0-9-]+@)?([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?\/system$/,
    'must be a libvirt URI such as qemu+tcp://10.0.0.12/system',
  );

/** `POST /v1/vms/{uid}/migrate` */
export const migrateVmRequest = z.strictObject({
  destinationURI,
  /** MiB/s, 0 = unlimited. */
  bandwidthMiBps: z.int().min(0).max(1_000_000).optional(),
  autoConverge: z.boolean().optional(),
  compressed: z.boolean().optional(),
  /** QEMU's default is 300 ms. */
  maxDowntimeMs: z.int().min(1).max(60_000).optional(),
  /** Abort when the migration takes longer than this. */
  timeoutSeconds: z.int().min(1).max(86_400).optional(),
});
/** Migrate request. */
export type MigrateVmRequest = z.infer<typeof migrateVmRequest>;

/** libvirt job progress (domjobinfo). */
export const jobInfo = z.object({
  type: z.enum(['none', 'bounded', 'unbounded', 'completed', 'failed', 'cancelled']),
  operation: z.string().optional(),
  elapsedMs: z.number().optional(),
  dataTotalBytes: z.number().optional(),
  dataProcessedBytes: z.number().optional(),
  dataRemainingBytes: z.number().optional(),
  memoryIteration: z.number().optional(),
});
/** Job progress. */
export type JobInfoResponse = z.infer<typeof jobInfo>;

/** Migration states; `cancelled` when aborted through `DELETE .../migration`. */
export const migrationState = z.enum(['running', 'succeeded', 'failed', 'cancelled']);
/** A migration state. */
export type MigrationState = z.infer<typeof migrationState>;

/** `GET /v1/vms/{uid}/migration` (and the answer to migrate and cancel). */
export const migrationStatus = z.object({
  uid: z.string(),
  state: migrationState,
  destinationURI: z.string(),
  startedAt: timestamp,
  finishedAt: timestamp.optional(),
  /** Live progress while running; the last progress seen once finished. */
  jobInfo: jobInfo.optional(),
  error: z.string().optional(),
});
/** Migration status. */
export type MigrationStatus = z.infer<typeof migrationStatus>;
