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
  observedGeneration: z.int().optional(),
  phase: z.enum(MIGRATION_PHASES).optional(),
  conditions: conditions.optional(),
  sourceHost: z.string().optional(),
  targetHost: z.string().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  progress: z
    .object({ dataTotalBytes: z.int().optional(), dataRemainingBytes: z.int().optional(), iteration: z.int().optional() })
    .optional(),
});

/** Migration spec. */
export type MigrationSpec = z.infer<typeof migrationSpec>;
/** Migration status. */
export type MigrationStatus = z.infer<typeof migrationStatus>;

