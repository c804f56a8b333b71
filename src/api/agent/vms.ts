/**
 * VM verbs. A VM is keyed by its Kubernetes UID, which is also the libvirt
 * domain UUID on every host. The agent-level spec refers to storage by
 * domain and volume name; the agent resolves those to paths itself, so the
 * operator never names a host path.
 */
import { z } from 'zod';
import { DOMAIN_NAME_PATTERN, MAC_PATTERN } from '../../hypervisor/domainxml/validate.js';
import { agentName, domainRelativePath, noControlChars, objectName, uuid } from './common.js';
import { cpuModel } from '../common.js';

/** libvirt domain name: lower case, 1–128 characters, never `/` or `..`. */
export const vmDomainName = z
  .string()
  .max(128)
  .regex(DOMAIN_NAME_PATTERN, 'must be 1-128 lower-case letters, digits, "-", "_" or ".", starting and ending with a letter or digit')
  .refine((n) => !n.includes('..'), { message: 'must not contain ".."' });

/** A unicast, lower-case MAC address. */
export const vmMac = z
  .string()
  .regex(MAC_PATTERN, 'must be a lower-case MAC address such as 52:54:00:12:34:56')
  .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, { message: 'must be a unicast MAC address' })
  .refine((m) => m !== '00:00:00:00:00:00', { message: 'must not be all zeros' });

/** Largest guest memory accepted: 4 TiB. */
export const MAX_MEMORY_MIB = 4 * 1024 * 1024;

/** A disk backed by a volume on a connected storage domain. */
export const vmDisk = z.strictObject({
  name: agentName,
  /** Storage domain holding the volume. */
  domain: agentName,
  volume: agentName,
  bus: z.enum(['virtio', 'sata', 'scsi']).default('virtio'),
  bootOrder: z.int().min(1).max(64).optional(),
  readOnly: z.boolean().optional(),
});

/** A NIC on a host bridge. The MAC is chosen by the operator (it is identity, recorded in status). */
export const vmNic = z.strictObject({
  name: agentName,
  bridge: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, 'must be a bridge name of at most 15 characters'),
  mac: vmMac,
  model: z.enum(['virtio', 'e1000']).default('virtio'),
});

/** Direct kernel boot from files on a storage domain. */
export const vmBoot = z.strictObject({
  domain: agentName,
  kernel: domainRelativePath,
  initrd: domainRelativePath.optional(),
  cmdline: z.string().max(4096).refine(noControlChars, { message: 'must not contain control characters' }).optional(),
});

function duplicates<T>(items: readonly T[], key: (t: T) => unknown): number[] {
  const seen = new Set<unknown>();
  const dup: number[] = [];
  items.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    if (seen.has(k)) dup.push(i);
    seen.add(k);
  });
  return dup;
}

/** `PUT /v1/vms/{uid}`: the agent-level VM spec. */
export const vmSpec = z
  .strictObject({
    /** libvirt domain name, unique on the host. */
    name: vmDomainName,
    owner: z.strictObject({ namespace: agentName, name: objectName }),
    /** `metadata.generation` of the VirtualMachine, recorded for status only. */
    generation: z.int().min(0),
    cpu: z.strictObject({
      cores: z.int().min(1).max(256),
      sockets: z.int().min(1).max(16).default(1),
      threads: z.int().min(1).max(8).default(1),
      /** `host-model` when unset, `host-passthrough`, or a named libvirt CPU model. */
      model: cpuModel.optional(),
    }),
    memoryMiB: z.int().min(16).max(MAX_MEMORY_MIB),
    /** `auto` uses KVM when the host has it, else TCG. */
    acceleration: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    boot: vmBoot.optional(),
    disks: z.array(vmDisk).max(32).default([]),
    nics: z.array(vmNic).max(16).default([]),
    /** What libvirt does when the storage lease is lost; `poweroff` keeps "never run twice". */
    onLockFailure: z.enum(['poweroff', 'pause', 'ignore']).optional(),
  })
  .superRefine((spec, ctx) => {
    for (const i of duplicates(spec.disks, (d) => d.name)) {
      ctx.addIssue({ code: 'custom', path: ['disks', i, 'name'], message: `duplicate disk name "${spec.disks[i]?.name}"` });
    }
    for (const i of duplicates(spec.disks, (d) => d.bootOrder)) {
      ctx.addIssue({ code: 'custom', path: ['disks', i, 'bootOrder'], message: 'duplicate bootOrder' });
    }
    for (const i of duplicates(spec.nics, (n) => n.name)) {
      ctx.addIssue({ code: 'custom', path: ['nics', i, 'name'], message: `duplicate NIC name "${spec.nics[i]?.name}"` });
    }
    for (const i of duplicates(spec.nics, (n) => n.mac)) {
      ctx.addIssue({ code: 'custom', path: ['nics', i, 'mac'], message: `duplicate MAC "${spec.nics[i]?.mac}"` });
    }
    if (spec.cpu.cores * spec.cpu.sockets * spec.cpu.threads > 1024) {
      ctx.addIssue({ code: 'custom', path: ['cpu', 'cores'], message: 'sockets * cores * threads must be at most 1024' });
    }
  });
/** VM spec as the operator writes it (defaults optional). */
export type VmSpecInput = z.input<typeof vmSpec>;
/** VM spec as the agent reads it (defaults applied). */
export type VmSpec = z.output<typeof vmSpec>;

/** libvirt domain states. */
export const domainState = z.enum(['running', 'blocked', 'paused', 'shutdown', 'shut off', 'crashed', 'pmsuspended', 'no state']);

/** True while a domain has a QEMU process (anything but shut off). */
export function isActive(info: { state: z.infer<typeof domainState> }): boolean {
  return info.state !== 'shut off';
}

/** A domain on the host, Drover's (`owned`) or not (an orphan, reported and never touched). */
export const vmInfo = z.object({
  uid: z.string(),
  name: z.string(),
  state: domainState,
  reason: z.string().optional(),
  persistent: z.boolean(),
  owned: z.boolean(),
  owner: z.object({ namespace: z.string(), name: z.string() }).optional(),
  specHash: z.string().optional(),
  generation: z.int().optional(),
  vcpus: z.int().optional(),
  memoryMiB: z.number().optional(),
  disks: z
    .array(z.object({ name: z.string().optional(), target: z.string(), path: z.string().optional(), readOnly: z.boolean() }))
    .optional(),
  nics: z.array(z.object({ name: z.string().optional(), mac: z.string(), bridge: z.string().optional() })).optional(),
  /**
   * True while the domain holds at least one lock-manager lease on this host
   * (observed, not assumed: see src/agent/leases/held.ts). False when it is
   * not running, paused (libvirt releases leases on pause), or the host has
   * no lock manager the agent can observe. Absent from older agents: false.
   */
  leaseProtected: z.boolean().default(false),
});
/** A VM as reported. */
export type VmInfo = z.infer<typeof vmInfo>;

/** `GET /v1/vms` */
export const vmList = z.object({ items: z.array(vmInfo) });
/** VM list. */
export type VmList = z.infer<typeof vmList>;

/** Longest graceful stop the agent waits for, in seconds. */
export const MAX_STOP_TIMEOUT_SECONDS = 600;

/** `POST /v1/vms/{uid}/stop`: ACPI shutdown, then power off after the timeout. */
export const stopVmRequest = z.strictObject({
  timeoutSeconds: z.int().min(0).max(MAX_STOP_TIMEOUT_SECONDS).default(60),
});
/** Stop request as the operator writes it. */
export type StopVmRequest = z.input<typeof stopVmRequest>;

/** `DELETE /v1/vms/{uid}` */
export const undefineVmResponse = z.object({ uid: z.string(), deleted: z.literal(true) });
/** Undefine answer. */
export type UndefineVmResponse = z.infer<typeof undefineVmResponse>;

/** Path parameters of VM routes. */
export const vmParams = z.strictObject({ uid: uuid });

