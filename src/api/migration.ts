/**
 * VirtualMachineMigration: a request to live-migrate one VM (KubeVirt's
 * VirtualMachineInstanceMigration). Deleting it while running cancels it.
 */
import { z } from 'zod';
import { conditions, dnsLabel } from './common.js';
import { withRules } from './rules.js';

/** Migration phases. */
export const MIGRATION_PHASES = ['Pending', 'Scheduling', 'Running', 'Succeeded', 'Failed'] as const;
/** A migration phase. */
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

/** VirtualMachineMigration.spec: fixed once created. */
export const migrationSpec = withRules(
  z.object({
    /** The VirtualMachine to migrate (same namespace). */
    vmName: dnsLabel,
    /** Chosen by the scheduler when omitted. */
    targetHost: dnsLabel.optional(),
  }),
  [
    {
      cel: 'self == oldSelf',
      message: 'spec is immutable: create a new VirtualMachineMigration instead',
      check: () => true,
      transition: true,
    },
  ],
);

/** VirtualMachineMigration.status */
export const migrationStatus = z.object({
  /** The spec generation this status reflects. */
  observedGeneration: z.int().optional(),
  /** Pending, Scheduling, Running, Succeeded or Failed. */
  phase: z.enum(MIGRATION_PHASES).optional(),
  /** Ready and the migration's other conditions, with reasons. */
  conditions: conditions.optional(),
  /** The host the VM left (or is leaving). */
  sourceHost: z.string().optional(),
  /** The host chosen (spec.targetHost or the scheduler's pick). */
  targetHost: z.string().optional(),
  /** When the migration started (RFC 3339). */
  startTime: z.string().optional(),
  /** When it ended (RFC 3339). */
  completionTime: z.string().optional(),
  /** Progress as the source agent reports it. */
  progress: z
    .object({
      /** Memory and state to transfer, in bytes. */
      dataTotalBytes: z.int().optional(),
      /** Still to transfer, in bytes. */
      dataRemainingBytes: z.int().optional(),
      /** Pre-copy iteration. */
      iteration: z.int().optional(),
    })
    .optional(),
});

/** Migration spec. */
export type MigrationSpec = z.infer<typeof migrationSpec>;
/** Migration status. */
export type MigrationStatus = z.infer<typeof migrationStatus>;

