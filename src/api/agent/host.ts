/** Host verbs: capabilities and live statistics. */
import { z } from 'zod';
import { timestamp } from './common.js';

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
