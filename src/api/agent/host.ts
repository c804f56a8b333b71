/** Host verbs: capabilities and live statistics. */
import { z } from 'zod';
import { timestamp } from './common.js';

/**
 * The lease mechanism guarding this host's VMs (libvirt's lock manager):
 * `lockspace` is the directory of lockd's leases (`file_lockspace_dir`) or
 * sanlock's automatic disk leases. Leases only prove anything across hosts
 * when every host reports the same manager and the same lockspace, on
 * storage they all see.
 */
export const hostLeases = z.object({
  manager: z.enum(['lockd', 'sanlock', 'none']),
  lockspace: z.string().optional(),
});
/** Lease capability of a host. */
export type HostLeases = z.infer<typeof hostLeases>;

/** The certificate the agent serves (and authenticates with). */
export const agentCertificate = z.object({
  /** Serial number, lower-case hex. */
  serial: z.string().min(1).max(128),
  notBefore: timestamp,
  notAfter: timestamp,
});
/** The agent's certificate facts. */
export type AgentCertificate = z.infer<typeof agentCertificate>;

/** `POST /v1/host/certificate/csr`: a request for a new key the agent keeps. */
export const certificateRequest = z.object({ csr: z.string().min(1).max(16 * 1024) });

/** `PUT /v1/host/certificate`: the signed certificate for the pending request. */
export const installCertificateRequest = z.strictObject({ cert: z.string().min(1).max(16 * 1024) });

/** `GET /v1/host/capabilities` */
export const hostCapabilities = z.object({
  hostUUID: z.string(),
  cpu: z.object({
    model: z.string().optional(),
    vendor: z.string().optional(),
    sockets: z.int().nonnegative(),
    cores: z.int().nonnegative(),
    threads: z.int().nonnegative(),
    flags: z.array(z.string()),
  }),
  memoryBytes: z.number().nonnegative(),
  hypervisorType: z.enum(['kvm', 'qemu']),
  libvirtVersion: z.string(),
  qemuVersion: z.string(),
  agentVersion: z.string(),
  /** Named CPU models a VM can ask for on this host (absent: the host does not say). */
  cpuModels: z.array(z.string()).optional(),
  /** The certificate served now (absent from agents older than certificate rotation). */
  certificate: agentCertificate.optional(),
  /** Absent from agents older than leases: read as no lock manager. */
  leases: hostLeases.default({ manager: 'none' }),
});
/** Host capabilities. */
export type HostCapabilitiesResponse = z.infer<typeof hostCapabilities>;

/** `GET /v1/host/stats` */
export const hostStats = z.object({
  /** Busy share of all CPUs since the previous sample (0–100). */
  cpuUsagePercent: z.number().min(0).max(100),
  memory: z.object({
    totalBytes: z.number().nonnegative(),
    freeBytes: z.number().nonnegative(),
    /** MemAvailable: what can be allocated without swapping. */
    availableBytes: z.number().nonnegative(),
  }),
  loadAverage: z.object({ one: z.number(), five: z.number(), fifteen: z.number() }),
  runningVMs: z.int().nonnegative(),
  time: timestamp,
});
/** Host statistics. */
export type HostStatsResponse = z.infer<typeof hostStats>;
