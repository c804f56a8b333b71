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
    /** NFS, PosixFS (a file system mounted with mount -t vfsType) or LocalFS (a directory on one host). Immutable. */
    type: withRules(z.enum(['NFS', 'PosixFS', 'LocalFS']), [immutable('spec.type')]),
    /** Data (VM disks), ISO (images), or HostedEngine (the self-hosted Manager VM's disk, lease and metadata). Immutable. */
    role: withRules(z.enum(['Data', 'ISO', 'HostedEngine']).default('Data'), [immutable('spec.role')]),
    /** With type NFS. */
    nfs: z
      .object({
        /** NFS server host name or IP address. */
        server: z
          .string()
          .min(1)
          .max(253)
          .regex(/^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$/, 'must be a host name or IP address'),
        /** Exported path on the server. */
        path: absolutePath,
        /** Extra mount options, comma-separated. */
        mountOptions: mountOptions.optional(),
      })
      .optional(),
    /** With type PosixFS. */
    posix: z
      .object({
        /** The device or path to mount, or (without vfsType) a directory every host already sees at this path. */
        path: absolutePath,
        /** File system type passed to mount -t; omitted: path is used as it is. */
        vfsType: z.string().regex(/^[a-z0-9._-]{1,32}$/, 'must be a file system type such as ext4').optional(),
        /** Extra mount options, comma-separated. */
        mountOptions: mountOptions.optional(),
      })
      .optional(),
    /** With type LocalFS. */
    local: z
      .object({
        /** The one Host this directory lives on. */
        host: dnsLabel,
        /** The directory on that host. */
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
  /** The Host. */
  name: dnsLabel,
  /** Whether the host has the domain connected and its health probe passes. */
  connected: z.boolean(),
  /** Why not, when it is not. */
  message: z.string().optional(),
  /** Read latency of the last health probe (VDSM's domain monitor), in seconds. */
  readLatencySeconds: z.number().optional(),
  /** When the host last probed the domain (RFC 3339). */
  lastCheckTime: z.string().optional(),
});

/** StorageDomain.status */
export const storageDomainStatus = z.object({
  /** The spec generation this status reflects. */
  observedGeneration: z.int().optional(),
  /** Unattached, Activating, Active, Maintenance or Inactive (oVirt's meanings). */
  phase: z.enum(STORAGE_DOMAIN_PHASES).optional(),
  /** Ready, LowSpace and the domain's other conditions, with reasons. */
  conditions: conditions.optional(),
  /** Identity written into the domain's metadata on format. */
  domainUUID: z.string().optional(),
  /** Space on the domain, as quantities. */
  capacity: z.object({
    /** Size of the file system. */
    total: z.string(),
    /** Space available. */
    free: z.string(),
  }).optional(),
  /** Each host's view of the domain. */
  hosts: z
    .array(storageDomainHostStatus)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .optional(),
});

/** StorageDomain spec with defaults. */
export type StorageDomainSpec = z.infer<typeof storageDomainSpec>;
/** StorageDomain status. */
export type StorageDomainStatus = z.infer<typeof storageDomainStatus>;
