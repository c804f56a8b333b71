/**
 * The shared hosted-engine configuration (`<domain>/hosted-engine/config.json`):
 * the Manager VM's definition, its health URL, the gateway every node pings,
 * how nodes reach each other's libvirt for migrations, and the timings.
 * Written once by `drover hosted-engine deploy`; every node reads it on every
 * cycle, so all decide alike.
 *
 * @packageDocumentation
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { hostedEngineTimings } from './timings.js';

/** The layout version this code reads and writes. A newer one makes a node's configuration stale. */
export const CONFIG_FORMAT = 1;

/** The Manager VM's libvirt domain name on every node: fixed and recognizable. */
export const ENGINE_DOMAIN_NAME = 'drover-hosted-engine';

/** A file of the Manager VM, relative to the hosted-engine directory (no `..`, no leading `/`). */
const relativeFile = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !/[\x00-\x1f\x7f]/.test(p), {
    message: 'must be a relative path inside the hosted-engine directory, without ".."',
  });

/** The Manager VM. */
export const engineVmConfig = z.strictObject({
  /** libvirt domain UUID, the same on every node (also the lease key). */
  uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  cores: z.int().min(1).max(64),
  memoryMiB: z.int().min(64).max(4 * 1024 * 1024),
  /** Disk image booted from (qcow2 when it ends in .qcow2, else raw). */
  diskImage: relativeFile.optional(),
  /** Direct kernel boot. */
  kernel: relativeFile.optional(),
  initrd: relativeFile.optional(),
  cmdline: z.string().max(4096).refine((s) => !/[\x00-\x1f\x7f]/.test(s), { message: 'must not contain control characters' }).optional(),
  /** The management bridge on every node (also checked for the score). */
  bridge: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, 'must be a Linux interface name (at most 15 characters)'),
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'must be a lower-case MAC address such as 52:54:00:12:34:56'),
  /** kvm, tcg, or auto (KVM when the node has it). */
  acceleration: z.enum(['auto', 'kvm', 'tcg']),
}).refine((v) => v.diskImage !== undefined || v.kernel !== undefined, { message: 'the Manager VM needs a disk image or a kernel', path: ['diskImage'] })
  .refine((v) => v.initrd === undefined || v.kernel !== undefined, { message: 'initrd needs a kernel', path: ['initrd'] });

/** The whole shared configuration. */
export const hostedEngineConfig = z.strictObject({
  format: z.literal(CONFIG_FORMAT),
  /** Bumped on every change; a node that runs with an older one is stale (score penalty). */
  version: z.int().min(1),
  vm: engineVmConfig,
  healthURL: z.url({ protocol: /^https?$/ }).max(2048),
  /** Address every node pings (the gateway penalty). */
  gateway: z.string().refine((s) => isIP(s) !== 0, { message: 'must be an IP address' }),
  /** How one node's libvirt reaches another's for a migration: qemu+<transport>://<address>/system. */
  migrationTransport: z.enum(['tls', 'tcp', 'ssh']),
  timings: hostedEngineTimings,
  /** Who deployed, when (for people). */
  deployedBy: z.string().max(253),
  deployedAt: z.string().max(64),
});

/** The shared configuration. */
export type HostedEngineConfig = z.infer<typeof hostedEngineConfig>;
/** The Manager VM's part of it. */
export type EngineVmConfig = z.infer<typeof engineVmConfig>;

/** libvirt URI of a node's libvirtd for migrations. */
export function migrationUri(config: Pick<HostedEngineConfig, 'migrationTransport'>, address: string): string {
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return `qemu+${config.migrationTransport}://${host}/system`;
}
