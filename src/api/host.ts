/**
 * Host: a plain Linux hypervisor running libvirt and the Drover agent (the
 * role VDSM plays for oVirt). Phases keep oVirt's meanings.
 */
import { z } from 'zod';
import { conditions, dnsLabel, secretRef } from './common.js';
import { withRules } from './rules.js';

/** Host phases, as oVirt's HostStatus. */
export const HOST_PHASES = [
  'Installing',
  'Connecting',
  'Up',
  'NonResponsive',
  'NonOperational',
  'PreparingForMaintenance',
  'Maintenance',
  'Error',
] as const;
/** A Host phase. */
export type HostPhase = (typeof HOST_PHASES)[number];

/** A DNS name or an IPv4/IPv6 address. */
const hostAddress = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)$/,
    'must be a DNS name or an IP address',
  );

/** Out-of-band power management used for fencing (oVirt's power management). */
export const powerManagementSpec = withRules(
  z.object({
    /** false keeps the settings but never fences through them. */
    enabled: z.boolean().default(true),
    /**
     * The fence agent: `ipmilan` runs the standard `fence_ipmilan`; `testbed`
     * kills a test host's processes (development only); others map to `fence_<agent>`.
     */
    agent: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'must be a fence agent name such as ipmilan'),
    /** BMC address. */
    address: hostAddress.optional(),
    /** BMC port; the fence agent's default when omitted. */
    port: z.int().min(1).max(65535).optional(),
    /** Secret with `username` and `password` keys for the BMC. */
    credentialsSecretRef: secretRef.optional(),
    /** Extra agent options (name → value), passed as `--name=value` arguments. */
    options: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), z.string().max(256)).optional(),
  }),
  [
    {
      cel: "self.agent == 'testbed' || has(self.address)",
      message: 'spec.powerManagement.address is required for this fence agent',
      check: (v) => v.agent === 'testbed' || v.address !== undefined,
      fieldPath: '.address',
    },
  ],
);

/** Host.spec */
export const hostSpec = z.object({
  /** Address the operator reaches the agent at. */
  address: hostAddress,
  /** Agent port (VDSM's is 54321). */
  port: z.int().min(1).max(65535).default(54321),
  /** true drains the host (live-migrates every VM away) and puts it in Maintenance. */
  maintenance: z.boolean().default(false),
  /** What a drain does with a VM that cannot be migrated: wait (Block) or shut it down (Stop). */
  drainPolicy: z.enum(['Block', 'Stop']).default('Block'),
  /** This host may run the self-hosted Manager VM. */
  selfHostedEngineNode: z.boolean().default(false),
  /** Storage Pool Manager priority, -1 (never) to 10 (oVirt's spm_priority). */
  spmPriority: z.int().min(-1).max(10).default(5),
  /** Out-of-band power management for fencing; without it a host that stops answering cannot be power-fenced. */
  powerManagement: powerManagementSpec.optional(),
});

/** What the agent reports about the machine. */
export const hostCapabilities = z.object({
  /** The host's CPU as libvirt reports it. */
  cpu: z
    .object({
      /** CPU model name. */
      model: z.string().optional(),
      /** CPU vendor. */
      vendor: z.string().optional(),
      /** Sockets. */
      sockets: z.int().optional(),
      /** Cores per socket. */
      cores: z.int().optional(),
      /** Threads per core. */
      threads: z.int().optional(),
      /** CPU feature flags. */
      flags: z.array(z.string()).optional(),
    })
    .optional(),
  /** Physical memory in bytes. */
  memoryBytes: z.int().optional(),
  /** kvm (hardware virtualization) or qemu (TCG emulation): what the agent's VMs run under. */
  hypervisorType: z.enum(['kvm', 'qemu']).optional(),
  /** libvirt version. */
  libvirtVersion: z.string().optional(),
  /** QEMU version. */
  qemuVersion: z.string().optional(),
  /** The Drover agent's version. */
  agentVersion: z.string().optional(),
  /** libvirt's host UUID. */
  hostUUID: z.string().optional(),
  /** Named CPU models a VM can ask for here (`spec.cpu.model`): the scheduler places such VMs only on hosts listing theirs. */
  cpuModels: z.array(z.string()).optional(),
});

/** Host.status */
export const hostStatus = z.object({
  /** The spec generation this status reflects. */
  observedGeneration: z.int().optional(),
  /** Installing, Connecting, Up, NonResponsive, NonOperational, PreparingForMaintenance, Maintenance or Error (oVirt's meanings). */
  phase: z.enum(HOST_PHASES).optional(),
  /** Ready, Stalled and the host's own conditions, with reasons. */
  conditions: conditions.optional(),
  /** What the agent reports about the machine (read once per connection). */
  capabilities: hostCapabilities.optional(),
  /** The agent's certificate: renewed by the operator before a third of its lifetime is left, or on request. */
  certificate: z
    .object({
      /** Serial number of the certificate the agent serves. */
      serial: z.string().optional(),
      /** When it expires (RFC 3339). */
      notAfter: z.string().optional(),
      /**
       * When the newest certificate recorded for the agent was issued (RFC 3339): only rises. The operator
       * refuses an agent certificate issued before it, so one replaced by a renewal is retired.
       */
      notBefore: z.string().optional(),
      /** When the operator last renewed it. */
      renewedTime: z.string().optional(),
      /** The `drover.io/renew-certificate` annotation value the last renewal answered. */
      renewalRequest: z.string().optional(),
      /** When the last renewal failed (cleared once renewed); the next try waits a minute from here. */
      failedTime: z.string().optional(),
    })
    .optional(),
  /** Load from the latest heartbeat. */
  usage: z
    .object({
      /** CPU busy, percent of all CPUs. */
      cpuPercent: z.number().optional(),
      /** Available memory in bytes. */
      memoryFreeBytes: z.int().optional(),
      /** One-minute load average. */
      load1: z.number().optional(),
      /** Domains running on the host. */
      runningVMs: z.int().optional(),
    })
    .optional(),
  /** When the agent last answered (RFC 3339). */
  lastHeartbeatTime: z.string().optional(),
  /** The agent process's boot id: it changes when the agent restarts. */
  agentBootId: z.string().optional(),
  /** Storage domains this host is connected to. */
  storageDomains: z.array(z.object({
    /** The StorageDomain. */
    name: dnsLabel,
    /** Whether the host has it connected and healthy. */
    connected: z.boolean(),
    /** Why not, when it is not. */
    message: z.string().optional(),
  })).optional(),
  /**
   * This host's storage heartbeat as another host sees it on shared storage,
   * looked at while the operator cannot reach the host: fresh means the host
   * is alive (partitioned from the operator, not dead).
   */
  storageHeartbeat: z
    .object({
      /** Younger than the Manager's storageHeartbeatTimeoutSeconds. */
      fresh: z.boolean(),
      /** Age of the heartbeat as the observing host measured it. */
      ageSeconds: z.number().optional(),
      /** The host that read it. */
      observedBy: z.string().optional(),
      /** When it was read (RFC 3339). */
      observedTime: z.string().optional(),
      /** Why no heartbeat could be read, when none could. */
      message: z.string().optional(),
    })
    .optional(),
  /** Fencing of this host after it stopped answering (oVirt's soft fencing, then power management). */
  fencing: z
    .object({
      /** Idle, Skipped (and why), SoftFencing, PowerFencing, Fenced (powered off: its VMs are dead), Failed. */
      state: z.enum(['Idle', 'Skipped', 'SoftFencing', 'PowerFencing', 'Fenced', 'Failed']),
      /** A CamelCase reason for the state. */
      reason: z.string().optional(),
      /** A human-readable explanation. */
      message: z.string().optional(),
      /** When the state last changed (RFC 3339). */
      lastTransitionTime: z.string().optional(),
      /** When the host was last confirmed powered off by its fence agent. */
      fencedTime: z.string().optional(),
      /** Power fencing attempts in the current outage. */
      attempts: z.int().optional(),
    })
    .optional(),
});

/** Host spec with defaults. */
export type HostSpec = z.infer<typeof hostSpec>;
/** Host status. */
export type HostStatus = z.infer<typeof hostStatus>;
