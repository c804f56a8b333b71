/**
 * VirtualMachine: a VM the environment keeps running (or not) according to its
 * run strategy, with KubeVirt's runStrategy meanings and oVirt's HA semantics.
 */
import { z } from 'zod';
import { conditions, cpuModel, dnsLabel, labelSelector, quantityAtLeast, relativePath } from './common.js';
import { withRules } from './rules.js';

/** VM phases. */
export const VM_PHASES = [
  'Pending',
  'Scheduling',
  'Starting',
  'Running',
  'Migrating',
  'Stopping',
  'Stopped',
  'Paused',
  'Failed',
  'Unknown',
] as const;
/** A VM phase. */
export type VMPhase = (typeof VM_PHASES)[number];

/** A unicast MAC address (lower case), as Drover accepts for NICs. */
export const macAddress = z
  .string()
  .max(17)
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'must be a lower-case MAC address such as 52:54:00:12:34:56')
  .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, { message: 'must be a unicast MAC address' })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "!(self.substring(1, 2) in ['1', '3', '5', '7', '9', 'b', 'd', 'f'])",
        message: 'must be a unicast MAC address',
      },
    ],
  });

/** One disk, created as a thin qcow2 volume on its storage domain. */
export const diskSpec = z.object({
  /** The disk's name, unique in the VM (part of its volume's name). */
  name: dnsLabel,
  /** The StorageDomain the volume is created on. */
  storageDomain: dnsLabel,
  /** Virtual size (a quantity, at least 1Mi); the qcow2 volume grows as the guest writes. */
  size: quantityAtLeast('1Mi', 'spec.disks[].size'),
  /** Boot priority, 1 first; disks without it are not bootable. */
  bootOrder: z.int().min(1).max(64).optional(),
  /** The bus the guest sees the disk on. */
  bus: z.enum(['virtio', 'sata', 'scsi']).default('virtio'),
  /** Attach read-only. */
  readOnly: z.boolean().default(false),
});

/** One network interface on a host bridge. */
export const networkSpec = z.object({
  /** The interface's name, unique in the VM. */
  name: dnsLabel,
  /** Bridge on every host (Linux bridge names are at most 15 characters). */
  bridge: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, 'must be a bridge name of at most 15 characters'),
  /** Chosen by the system (and reported in status) when omitted. */
  macAddress: macAddress.optional(),
  /** The NIC model the guest sees. */
  model: z.enum(['virtio', 'e1000']).default('virtio'),
});

/** VirtualMachine.spec */
export const virtualMachineSpec = withRules(
  z.object({
    /** Always restarts after any stop, RerunOnFailure only after a failure, Manual never, Halted keeps it off. */
    runStrategy: z.enum(['Always', 'RerunOnFailure', 'Manual', 'Halted']).default('Always'),
    /** oVirt's highly available VM: restarted on another host when its host fails (with proof the old instance is gone). */
    highAvailability: z
      .object({
        /** Restart the VM elsewhere after a host failure. */
        enabled: z.boolean().default(false),
        /** Restart order after a host failure, 100 first. */
        priority: z.int().min(0).max(100).default(50),
      })
      .prefault({}),
    /** Virtual CPU topology: sockets × cores × threads vCPUs. */
    cpu: z.object({
      /** Cores per socket. */
      cores: z.int().min(1).max(256),
      /** Sockets. */
      sockets: z.int().min(1).max(16).default(1),
      /** Threads per core. */
      threads: z.int().min(1).max(8).default(1),
      /**
       * CPU model: `host-model` when unset, `host-passthrough`, or a named
       * model (e.g. `Nehalem`, `EPYC`, `qemu64`). Under TCG the host modes
       * become `qemu64`; a named model is emulated as named.
       */
      model: cpuModel.optional(),
    }),
    /** Guest memory (a quantity, at least 16Mi). */
    memory: quantityAtLeast('16Mi', 'spec.memory'),
    /** Auto uses KVM when the host has it, else TCG; KVM or TCG pins the accelerator. */
    acceleration: z.enum(['Auto', 'KVM', 'TCG']).default('Auto'),
    /** Direct kernel boot from files on a storage domain. */
    boot: z
      .object({
        /** The StorageDomain holding the files. */
        storageDomain: dnsLabel,
        /** Kernel image, relative to the storage domain. */
        kernel: relativePath,
        /** Initial ramdisk, relative to the storage domain. */
        initrd: relativePath.optional(),
        /** Kernel command line. */
        cmdline: z.string().max(4096).optional(),
      })
      .optional(),
    /** Disks, each a qcow2 volume on a storage domain (names unique). */
    disks: z
      .array(diskSpec)
      .max(32)
      .refine((ds) => new Set(ds.map((d) => d.name)).size === ds.length, { message: 'spec.disks[].name values must be unique' })
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .optional(),
    /** Network interfaces, each on a host bridge (names unique). */
    networks: z
      .array(networkSpec)
      .max(16)
      .refine((ns) => new Set(ns.map((n) => n.name)).size === ns.length, { message: 'spec.networks[].name values must be unique' })
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .optional(),
    /** Where the VM may run. */
    placement: z
      .object({
        /** Only Hosts whose labels match may run it. */
        hostSelector: labelSelector.optional(),
      })
      .optional(),
    /** What happens to the disks when the VM is deleted. */
    diskDeletionPolicy: z.enum(['Retain', 'Delete']).default('Retain'),
    /** Seconds a graceful (ACPI) shutdown may take before the VM is forced off. */
    terminationGracePeriodSeconds: z.int().min(0).max(3600).default(60),
  }),
  [
    {
      cel: 'has(self.boot) || (has(self.disks) && self.disks.exists(d, has(d.bootOrder)))',
      message: 'spec.boot or a disk with bootOrder is required: the VM has nothing to boot from',
      check: (v) => v.boot !== undefined || (v.disks ?? []).some((d) => d.bootOrder !== undefined),
    },
    {
      cel: '!has(self.disks) || self.disks.all(d, !has(d.bootOrder) || self.disks.exists_one(e, has(e.bootOrder) && e.bootOrder == d.bootOrder))',
      message: 'spec.disks[].bootOrder values must be unique',
      check: (v) => {
        const orders = (v.disks ?? []).flatMap((d) => (d.bootOrder === undefined ? [] : [d.bootOrder]));
        return new Set(orders).size === orders.length;
      },
      fieldPath: '.disks',
    },
    {
      cel: '!has(self.networks) || self.networks.all(n, !has(n.macAddress) || self.networks.exists_one(m, has(m.macAddress) && m.macAddress == n.macAddress))',
      message: 'spec.networks[].macAddress values must be unique',
      check: (v) => {
        const macs = (v.networks ?? []).flatMap((n) => (n.macAddress === undefined ? [] : [n.macAddress]));
        return new Set(macs).size === macs.length;
      },
      fieldPath: '.networks',
    },
  ],
);

/** A guest interface as reported by the host. */
export const vmInterfaceStatus = z.object({
  /** The interface's name from spec.networks. */
  name: z.string(),
  /** Its MAC address (chosen by the system when the spec has none). */
  macAddress: z.string(),
  /** The host bridge it is on. */
  bridge: z.string().optional(),
  /** The guest's address, when known. */
  ipAddress: z.string().optional(),
});

/** VirtualMachine.status */
export const virtualMachineStatus = z.object({
  /** The spec generation this status reflects. */
  observedGeneration: z.int().optional(),
  /** Pending, Scheduling, Starting, Running, Migrating, Stopping, Stopped, Paused, Failed or Unknown (its host does not answer). */
  phase: z.enum(VM_PHASES).optional(),
  /** Ready, Scheduled, RestartRequired, FailoverBlocked and others, with reasons. */
  conditions: conditions.optional(),
  /** The Host the VM runs (or last ran) on. */
  host: z.string().optional(),
  /** libvirt domain UUID (the object's UID, stable across hosts). */
  domainUUID: z.string().optional(),
  /** The VM's network interfaces. */
  interfaces: z.array(vmInterfaceStatus).optional(),
  /** Disk volumes as created on their storage domains. */
  disks: z
    .array(z.object({
      /** The disk's name from spec.disks. */
      name: z.string(),
      /** Its StorageDomain. */
      storageDomain: z.string(),
      /** The volume's name on the domain. */
      volume: z.string(),
      /** Whether the volume exists. */
      created: z.boolean(),
    }))
    .optional(),
  /** metadata.generation of the spec the running instance was started from. */
  runningGeneration: z.int().optional(),
  /** Hash of the machine definition the running instance was started from (RestartRequired compares against it). */
  runningSpecHash: z.string().optional(),
  /** When the running instance started (RFC 3339). */
  startTime: z.string().optional(),
  /** Why the VM last stopped: Shutdown (by request or from inside), Failed, HostFailure, Migrated. */
  lastStopReason: z.string().optional(),
  /** The live migration in progress, while phase is Migrating. */
  migration: z
    .object({
      /** The VirtualMachineMigration driving it (or `drain-<host>` for a maintenance drain). */
      name: z.string(),
      /** The host it leaves. */
      sourceHost: z.string(),
      /** The host it goes to. */
      targetHost: z.string(),
      /** When it started (RFC 3339). */
      startTime: z.string(),
    })
    .optional(),
  /** Since when the VM has been paused on a storage I/O error (it is killed after availability.pausedOnStorageErrorKillSeconds). */
  pausedOnStorageErrorSince: z.string().optional(),
  /** A restart on another host after its host failed, while it is being attempted. */
  failover: z
    .object({
      /** The failed host. */
      fromHost: z.string(),
      /** The host it is being started on (also in status.host while the attempt runs). */
      toHost: z.string().optional(),
      /** When the failover started (RFC 3339). */
      startTime: z.string(),
      /** Start attempts so far. */
      attempts: z.int(),
      /** LeaseFree or Fenced: the proof that the old instance no longer runs. */
      proof: z.string().optional(),
    })
    .optional(),
});

/** VM spec with defaults. */
export type VirtualMachineSpec = z.infer<typeof virtualMachineSpec>;
/** VM status. */
export type VirtualMachineStatus = z.infer<typeof virtualMachineStatus>;
