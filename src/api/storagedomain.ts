/**
 * StorageDomain: storage every host reaches (oVirt's storage domain). Drover
 * supports NFS, POSIX-compliant file systems and local directories.
 */
import { z } from 'zod';
import { absolutePath, conditions, dnsLabel } from './common.js';
import { immutable, withRules } from './rules.js';

/** StorageDomain phases, as oVirt's StorageDomainStatus. */
export const STORAGE_DOMAIN_PHASES = ['Unattached', 'Activating', 'Active', 'Maintenance', 'Inactive'] as const;
/** A StorageDomain phase. */
export type StorageDomainPhase = (typeof STORAGE_DOMAIN_PHASES)[number];

const mountOptions = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9_=.,:/@-]*$/, 'must be a comma-separated list of mount options');

/** StorageDomain.spec */
export const storageDomainSpec = withRules(
  z.object({
    type: withRules(z.enum(['NFS', 'PosixFS', 'LocalFS']), [immutable('spec.type')]),
    role: withRules(z.enum(['Data', 'ISO', 'HostedEngine']).default('Data'), [immutable('spec.role')]),
    nfs: z
      .object({
        server: z
          .string()
          .min(1)
          .max(253)
          .regex(/^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$/, 'must be a host name or IP address'),
        path: absolutePath,
        mountOptions: mountOptions.optional(),
      })
      .optional(),
    posix: z
      .object({
        path: absolutePath,
        vfsType: z.string().regex(/^[a-z0-9._-]{1,32}$/, 'must be a file system type such as ext4').optional(),
        mountOptions: mountOptions.optional(),
      })
      .optional(),
    local: z
      .object({
        /** The one Host this directory lives on. */
        host: dnsLabel,
        path: absolutePath,
      })
      .optional(),
    /** Percent of free space below which the domain reports LowSpace (oVirt's warning threshold). */
    warningLowSpacePercent: z.int().min(0).max(100).default(10),
  }),
  [
    {
      cel: "self.type == 'NFS' ? (has(self.nfs) && !has(self.posix) && !has(self.local)) : self.type == 'PosixFS' ? (has(self.posix) && !has(self.nfs) && !has(self.local)) : (has(self.local) && !has(self.nfs) && !has(self.posix))",
      message: 'exactly one of spec.nfs, spec.posix, spec.local must be set, matching spec.type',
      check: (v) => {
        const set = [v.nfs && 'NFS', v.posix && 'PosixFS', v.local && 'LocalFS'].filter(Boolean);
        return set.length === 1 && set[0] === v.type;
      },
    },
    {
      cel: "self.role != 'HostedEngine' || self.type != 'LocalFS'",
      message: 'spec.role HostedEngine needs storage every node reaches: spec.type must not be LocalFS',
      check: (v) => v.role !== 'HostedEngine' || v.type !== 'LocalFS',
      fieldPath: '.role',
    },
  ],
);

/** One host's view of the domain. */
export const storageDomainHostStatus = z.object({
  name: dnsLabel,
  connected: z.boolean(),
  message: z.string().optional(),
  /** Read latency of the last health probe (VDSM's domain monitor), in seconds. */
  readLatencySeconds: z.number().optional(),
  lastCheckTime: z.string().optional(),
});

/** StorageDomain.status */
export const storageDomainStatus = z.object({
  observedGeneration: z.int().optional(),
  phase: z.enum(STORAGE_DOMAIN_PHASES).optional(),
  conditions: conditions.optional(),
  /** Identity written into the domain's metadata on format. */
  domainUUID: z.string().optional(),
  capacity: z.object({ total: z.string(), free: z.string() }).optional(),
  hosts: z
    .array(storageDomainHostStatus)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional(),
});

/** StorageDomain spec with defaults. */
export type StorageDomainSpec = z.infer<typeof storageDomainSpec>;
/** StorageDomain status. */
export type StorageDomainStatus = z.infer<typeof storageDomainStatus>;
