/**
 * Manager: one per namespace, the environment's brain. Standalone (the
 * operator runs outside the hosts) or SelfHosted (the Manager runs as a highly
 * available VM on self-hosted engine nodes among the hosts it manages).
 */
import { z } from 'zod';
import { conditions, dnsLabel, labelSelector, quantityAtLeast, relativePath } from './common.js';
import { withRules } from './rules.js';
import { macAddress } from './virtualmachine.js';

/** Where and how the self-hosted Manager VM runs. */
export const selfHostedSpec = withRules(
  z.object({
    /** The StorageDomain (role HostedEngine) holding the VM's disk, lease and HA metadata. */
    storageDomain: dnsLabel,
    /** Selects the self-hosted engine nodes (Hosts with spec.selfHostedEngineNode). */
    hostSelector: labelSelector,
    /** The Manager VM itself. */
    vm: z.object({
      /** Virtual CPUs of the Manager VM. */
      cpu: z.object({
        /** Virtual CPU cores. */
        cores: z.int().min(1).max(64).default(2),
      }).prefault({}),
      /** Memory of the Manager VM (a quantity, at least 64Mi). */
      memory: quantityAtLeast('64Mi', 'spec.selfHosted.vm.memory'),
      /** Disk image (relative to the storage domain) booted from. */
      diskImage: relativePath.optional(),
      /** Direct kernel boot, relative to the storage domain. */
      kernel: relativePath.optional(),
      /** Initial ramdisk for direct kernel boot, relative to the storage domain. */
      initrd: relativePath.optional(),
      /** Kernel command line for direct kernel boot. */
      cmdline: z.string().max(4096).optional(),
      /** The management bridge the VM attaches to on every node. */
      bridge: dnsLabel.max(15).default('br0'),
      /** MAC address of the VM's NIC; derived from the Manager's UID when omitted. */
      macAddress: macAddress.optional(),
    }),
    /** HTTP(S) URL answered by the Manager when healthy (ovirt-ha-agent's engine health check). */
    healthURL: z.url({ protocol: /^https?$/ }).max(2048),
    /** None, Global (no node acts on the Manager VM, for upgrades) or Local (the listed nodes step aside). */
    maintenance: z.enum(['None', 'Global', 'Local']).default('None'),
    /** With maintenance Local: the nodes in local maintenance. */
    localMaintenanceHosts: z
      .array(dnsLabel)
      .max(64)
      .refine((hs) => new Set(hs).size === hs.length, { message: 'spec.selfHosted.localMaintenanceHosts must not contain duplicates' })
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional(),
  }),
  [
    {
      cel: 'has(self.vm.diskImage) || has(self.vm.kernel)',
      message: 'spec.selfHosted.vm needs diskImage or kernel',
      check: (v) => v.vm.diskImage !== undefined || v.vm.kernel !== undefined,
      fieldPath: '.vm',
    },
    {
      cel: "self.maintenance != 'Local' || (has(self.localMaintenanceHosts) && size(self.localMaintenanceHosts) > 0)",
      message: 'spec.selfHosted.localMaintenanceHosts is required when maintenance is Local',
      check: (v) => v.maintenance !== 'Local' || (v.localMaintenanceHosts?.length ?? 0) > 0,
      fieldPath: '.localMaintenanceHosts',
    },
    {
      cel: "isURL(self.healthURL) && url(self.healthURL).getScheme() in ['http', 'https']",
      message: 'spec.selfHosted.healthURL must be an http or https URL',
      check: (v) => URL.canParse(v.healthURL) && ['http:', 'https:'].includes(new URL(v.healthURL).protocol),
      fieldPath: '.healthURL',
    },
  ],
);

/** Scheduling policy for VMs (oVirt's cluster scheduling policy). */
export const schedulingSpec = z.object({
  /** EvenlyDistributed spreads VMs; PowerSaving packs them onto fewer hosts. */
  policy: z.enum(['EvenlyDistributed', 'PowerSaving']).default('EvenlyDistributed'),
  /** Virtual CPUs schedulable per physical CPU thread, in percent (oVirt's CPU overcommit). */
  cpuOvercommitPercent: z.int().min(100).max(1000).default(400),
  /** Memory schedulable per physical byte, in percent (oVirt's memory optimization: 100, 150, 200). */
  memoryOvercommitPercent: z.int().min(50).max(400).default(100),
});

/** Live migration limits (KubeVirt's defaults). */
export const migrationPolicySpec = z.object({
  /** Live migrations running at once in the namespace; more wait Pending. */
  maxParallelMigrations: z.int().min(1).max(100).default(5),
  /** Live migrations leaving one host at once. */
  maxOutboundPerHost: z.int().min(1).max(20).default(2),
  /** A migration whose remaining data has not shrunk for this long is cancelled and fails. */
  progressTimeoutSeconds: z.int().min(5).max(3600).default(150),
  /** Bandwidth limit per migration in MiB/s; 0 means no limit. */
  bandwidthMiBps: z.int().min(0).max(100000).default(0),
  /** Let QEMU throttle a busy guest's vCPUs so the migration converges. */
  autoConverge: z.boolean().default(true),
  /** Compress memory pages in flight (XBZRLE), trading CPU for bandwidth. */
  compressed: z.boolean().default(false),
});

/** Failure detection and fencing timings; short values make tests fast. */
export const availabilitySpec = z.object({
  /** How often agents report in. */
  heartbeatIntervalSeconds: z.int().min(1).max(300).default(5),
  /** Missed heartbeats for this long make a Host NonResponsive (oVirt: 60 s). */
  nonResponsiveAfterSeconds: z.int().min(2).max(3600).default(60),
  /** Fencing is suspended this long after the operator starts (oVirt: 300 s). */
  fencingGraceSeconds: z.int().min(0).max(3600).default(300),
  /** Skip fencing while the host still renews its storage heartbeat (oVirt's skipIfSdActive). */
  skipFencingIfStorageHeartbeat: z.boolean().default(true),
  /** Skip fencing when more than this percent of hosts lost contact at once (skipIfConnectivityBroken). */
  skipFencingIfConnectivityBrokenPercent: z.int().min(1).max(100).default(50),
  /** A VM paused on a storage error is killed after this long so it can restart elsewhere (oVirt: 80 s). */
  pausedOnStorageErrorKillSeconds: z.int().min(1).max(3600).default(80),
  /**
   * An HA VM whose disks are guarded by a storage lease is tried on another
   * host once its own host has missed heartbeats this long: the lease makes
   * the attempt safe (it fails with LeaseHeld while the old instance runs),
   * so it need not wait for NonResponsive and fencing.
   */
  leaseFailoverAfterSeconds: z.int().min(1).max(3600).default(10),
  /** A host whose storage heartbeat (seen by another host) is younger than this is alive: partitioned, not dead. */
  storageHeartbeatTimeoutSeconds: z.int().min(2).max(3600).default(30),
  /** After soft fencing (restarting the agent through a second path), wait this long for the host to answer before power fencing. */
  softFencingTimeoutSeconds: z.int().min(1).max(3600).default(60),
});

/** Manager.spec */
export const managerSpec = withRules(
  z.object({
    /** Standalone: the operator runs outside the hosts it manages. SelfHosted: the Manager runs as an HA VM on self-hosted engine nodes. */
    mode: z.enum(['Standalone', 'SelfHosted']).default('Standalone'),
    /** Required with mode SelfHosted, forbidden otherwise. */
    selfHosted: selfHostedSpec.optional(),
    scheduling: schedulingSpec.prefault({}),
    migration: migrationPolicySpec.prefault({}),
    availability: availabilitySpec.prefault({}),
  }),
  [
    {
      cel: "self.mode == 'SelfHosted' ? has(self.selfHosted) : !has(self.selfHosted)",
      message: 'spec.selfHosted is required when spec.mode is SelfHosted and forbidden otherwise',
      check: (v) => (v.mode === 'SelfHosted') === (v.selfHosted !== undefined),
      fieldPath: '.selfHosted',
    },
  ],
);

/** A self-hosted engine node as seen in the shared HA metadata. */
export const hostedEngineNodeStatus = z.object({
  /** The Host's name. */
  name: z.string(),
  /** The node's HA score (ovirt-ha-agent's: the highest-scored live node runs the Manager VM). */
  score: z.int(),
  /** The node's HA state machine state. */
  state: z.string(),
  /** When the node last wrote its metadata (RFC 3339), refreshed in status at least once a minute. */
  lastUpdate: z.string().optional(),
  /** The node's metadata is younger than the host-alive timeout. */
  live: z.boolean().optional(),
});

/** Manager.status */
export const managerStatus = z.object({
  /** The spec generation this status reflects. */
  observedGeneration: z.int().optional(),
  /**
   * Ready, StorageReachable, HighlyAvailable (at least two Up hosts reaching an Active Data domain), with reasons;
   * in SelfHosted mode also HostedEngineHighlyAvailable (two or more live nodes with a positive score) and
   * HostedEngineMaintenanceApplied (the shared HA metadata carries spec.selfHosted.maintenance).
   */
  conditions: conditions.optional(),
  /** Hosts in the namespace. */
  hosts: z.object({
    /** All Hosts. */
    total: z.int(),
    /** Hosts in phase Up. */
    up: z.int(),
  }).optional(),
  /** StorageDomains in the namespace. */
  storageDomains: z.object({
    /** All StorageDomains. */
    total: z.int(),
    /** StorageDomains in phase Active. */
    active: z.int(),
  }).optional(),
  /** VirtualMachines in the namespace. */
  virtualMachines: z.object({
    /** All VirtualMachines. */
    total: z.int(),
    /** VirtualMachines in phase Running. */
    running: z.int(),
  }).optional(),
  /** The environment's CA: agents enroll against it (pin caCertHash) and the operator's client certificate comes from it. */
  pki: z
    .object({
      /** The Secret holding the CA certificate and key (`<manager>-ca`): back it up. */
      caSecretName: z.string(),
      /** `sha256:<hex>` of the CA's public key, the value for `drover agent --ca-cert-hash`. */
      caCertHash: z.string(),
      /** When the CA certificate expires (RFC 3339). */
      caNotAfter: z.string().optional(),
    })
    .optional(),
  /** SelfHosted mode: where the Manager VM runs and what the HA nodes report. */
  hostedEngine: z
    .object({
      /** The node running the Manager VM. */
      host: z.string().optional(),
      /** The Manager VM's state. */
      state: z.string().optional(),
      /** The hosted-engine maintenance mode in effect (None, Global, Local). */
      maintenance: z.string().optional(),
      /** Every self-hosted engine node with its score. */
      nodes: z.array(hostedEngineNodeStatus).optional(),
    })
    .optional(),
});

/** Manager spec as the operator uses it (defaults applied). */
export type ManagerSpec = z.infer<typeof managerSpec>;
/** Manager status. */
export type ManagerStatus = z.infer<typeof managerStatus>;
