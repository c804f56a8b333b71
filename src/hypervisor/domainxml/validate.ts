/**
 * Validation of a {@link DomainSpec} before it is turned into XML. Each
 * error is a human-readable sentence that starts with the field path
 * (`disks[1].path: …`), so the agent can hand it back to the operator and
 * the user sees which field to fix.
 *
 * @packageDocumentation
 */
import { assignDiskTargets, targetPrefix } from './disks.js';
import { MIN_MEMORY_MIB, type DomainSpec } from './types.js';

/** Allowed libvirt domain names: lower-case, 1–128 characters, no `/`. */
export const DOMAIN_NAME_PATTERN = /^[a-z0-9]([-a-z0-9_.]{0,126}[a-z0-9])?$/;

/** MAC address form Drover accepts: lower-case hex, colon-separated. */
export const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Lower-case UUID, as Kubernetes writes UIDs and libvirt writes `<uuid>`. */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Names of disks and NICs: DNS-1123 labels, as in the Kubernetes API. They
 * become libvirt user aliases, which allow only `[A-Za-z0-9_-]`.
 */
const DEVICE_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Target names libvirt accepts for Drover's buses (up to three letters). */
const TARGET_PATTERN = /^(vd|sd)[a-z]{1,3}$/;

/** Disk serials: what libvirt's schema allows, capped at the 20 bytes virtio-blk and ATA can carry. */
const SERIAL_PATTERN = /^[A-Za-z0-9_.+-]{1,20}$/;

/** CPU model and machine type names (as listed by libvirt's domain capabilities). */
const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no `/` or whitespace. */
const BRIDGE_PATTERN = /^[A-Za-z0-9_.:-]{1,15}$/;

/** Lease lockspace and key names: one path component each (libvirt joins them into a file path). */
const LEASE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,255}$/;

const isPositiveInt = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;

/** Checks a host path: absolute, no `..` segment (no escaping a storage domain), no control characters. */
function pathErrors(field: string, path: unknown): string[] {
  if (typeof path !== 'string' || path === '') return [`${field}: is required`];
  const errs: string[] = [];
  if (!path.startsWith('/')) errs.push(`${field}: "${path}" must be an absolute path`);
  if (path.split('/').includes('..')) errs.push(`${field}: "${path}" must not contain ".." segments`);
  if (/[\x00-\x1f\x7f]/.test(path)) errs.push(`${field}: must not contain control characters`);
  return errs;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): string[] {
  return allowed.includes(value as T) ? [] : [`${field}: "${String(value)}" must be one of ${allowed.join(', ')}`];
}

/**
 * Returns every problem found in `spec` (an empty list when it is valid).
 * `buildDomainXml` refuses specs with problems, so libvirt only ever sees
 * XML built from a valid spec.
 */
export function validateDomainSpec(spec: DomainSpec): string[] {
  const errs: string[] = [];

  if (!UUID_PATTERN.test(String(spec.uid))) errs.push(`uid: "${spec.uid}" must be a lower-case UUID`);

  if (typeof spec.name !== 'string' || !DOMAIN_NAME_PATTERN.test(spec.name)) {
    errs.push(`name: "${spec.name}" must match ${DOMAIN_NAME_PATTERN.source}`);
  } else if (spec.name.includes('..')) {
    errs.push(`name: "${spec.name}" must not contain ".."`);
  }
  if (spec.title !== undefined && (spec.title === '' || /[\r\n]/.test(spec.title))) {
    errs.push('title: must be non-empty and on one line');
  }

  if (!spec.owner?.namespace) errs.push('owner.namespace: is required');
  if (!spec.owner?.name) errs.push('owner.name: is required');
  if (spec.generation !== undefined && !(Number.isInteger(spec.generation) && spec.generation >= 0)) {
    errs.push(`generation: ${spec.generation} must be a non-negative integer`);
  }
  if (spec.specHash !== undefined && !/^[A-Za-z0-9:._-]{1,128}$/.test(spec.specHash)) {
    errs.push('specHash: must be 1-128 characters of [A-Za-z0-9:._-]');
  }

  errs.push(...oneOf('hypervisor', spec.hypervisor, ['kvm', 'qemu'] as const));
  if (spec.machine !== undefined && !MODEL_PATTERN.test(spec.machine)) {
    errs.push(`machine: "${spec.machine}" is not a valid machine type name`);
  }

  const cpu = spec.cpu;
  if (!isPositiveInt(cpu?.cores)) errs.push(`cpu.cores: ${cpu?.cores} must be a positive integer`);
  if (cpu?.sockets !== undefined && !isPositiveInt(cpu.sockets)) {
    errs.push(`cpu.sockets: ${cpu.sockets} must be a positive integer`);
  }
  if (cpu?.threads !== undefined && !isPositiveInt(cpu.threads)) {
    errs.push(`cpu.threads: ${cpu.threads} must be a positive integer`);
  }
  errs.push(...oneOf('cpu.mode', cpu?.mode, ['host-passthrough', 'host-model', 'custom'] as const));
  if (cpu?.model !== undefined) {
    if (cpu.mode !== 'custom') errs.push(`cpu.model: only allowed with cpu.mode "custom"`);
    else if (!MODEL_PATTERN.test(cpu.model)) errs.push(`cpu.model: "${cpu.model}" is not a valid CPU model name`);
  } else if (cpu?.mode === 'custom' && spec.hypervisor === 'kvm') {
    errs.push('cpu.model: is required when cpu.mode is "custom" on kvm');
  }

  if (!Number.isInteger(spec.memoryMiB)) errs.push(`memoryMiB: ${spec.memoryMiB} must be an integer`);
  else if (spec.memoryMiB < MIN_MEMORY_MIB) errs.push(`memoryMiB: ${spec.memoryMiB} is below the minimum of ${MIN_MEMORY_MIB}`);

  if (spec.boot !== undefined) {
    errs.push(...pathErrors('boot.kernel', spec.boot.kernel));
    if (spec.boot.initrd !== undefined) errs.push(...pathErrors('boot.initrd', spec.boot.initrd));
  }

  // Boot order is one sequence across disks and NICs; remember who took each slot.
  const bootOwners = new Map<number, string>();
  const checkBoot = (field: string, order: number | undefined): void => {
    if (order === undefined) return;
    if (!isPositiveInt(order)) {
      errs.push(`${field}.bootOrder: ${order} must be a positive integer`);
      return;
    }
    const first = bootOwners.get(order);
    if (first !== undefined) errs.push(`${field}.bootOrder: ${order} is already used by ${first}`);
    else bootOwners.set(order, field);
  };

  const disks = Array.isArray(spec.disks) ? spec.disks : [];
  if (!Array.isArray(spec.disks)) errs.push('disks: must be a list');
  const diskNames = new Map<string, number>();
  disks.forEach((d, i) => {
    const f = `disks[${i}]`;
    if (!DEVICE_NAME_PATTERN.test(String(d.name))) errs.push(`${f}.name: "${d.name}" must be a DNS-1123 label`);
    const prev = diskNames.get(d.name);
    if (prev !== undefined) errs.push(`${f}.name: duplicate disk name "${d.name}" (also disks[${prev}])`);
    else diskNames.set(d.name, i);
    errs.push(...pathErrors(`${f}.path`, d.path));
    errs.push(...oneOf(`${f}.format`, d.format, ['qcow2', 'raw'] as const));
    errs.push(...oneOf(`${f}.bus`, d.bus, ['virtio', 'sata', 'scsi'] as const));
    if (d.device !== undefined) errs.push(...oneOf(`${f}.device`, d.device, ['disk', 'cdrom'] as const));
    if (d.device === 'cdrom' && d.bus === 'virtio') errs.push(`${f}.bus: a cdrom needs bus "sata" or "scsi", not "virtio"`);
    if (d.cache !== undefined) {
      errs.push(...oneOf(`${f}.cache`, d.cache, ['none', 'directsync', 'writethrough', 'writeback', 'unsafe'] as const));
    }
    if (d.serial !== undefined && !SERIAL_PATTERN.test(d.serial)) {
      errs.push(`${f}.serial: "${d.serial}" must be 1-20 characters of [A-Za-z0-9_.+-]`);
    }
    if (d.target !== undefined) {
      if (!TARGET_PATTERN.test(d.target)) errs.push(`${f}.target: "${d.target}" is not a valid target name`);
      else if (!d.target.startsWith(targetPrefix(d.bus))) {
        errs.push(`${f}.target: "${d.target}" does not match bus "${d.bus}" (expected ${targetPrefix(d.bus)}*)`);
      }
    }
    checkBoot(f, d.bootOrder);
  });
  const targets = assignDiskTargets(disks);
  const targetOwners = new Map<string, number>();
  targets.forEach((t, i) => {
    const prev = targetOwners.get(t);
    if (prev !== undefined) errs.push(`disks[${i}].target: duplicate target "${t}" (also disks[${prev}])`);
    else targetOwners.set(t, i);
  });

  const nics = Array.isArray(spec.interfaces) ? spec.interfaces : [];
  if (!Array.isArray(spec.interfaces)) errs.push('interfaces: must be a list');
  const nicNames = new Map<string, number>();
  const macs = new Map<string, number>();
  nics.forEach((n, i) => {
    const f = `interfaces[${i}]`;
    if (!DEVICE_NAME_PATTERN.test(String(n.name))) errs.push(`${f}.name: "${n.name}" must be a DNS-1123 label`);
    const prevName = nicNames.get(n.name);
    if (prevName !== undefined) errs.push(`${f}.name: duplicate interface name "${n.name}" (also interfaces[${prevName}])`);
    else nicNames.set(n.name, i);
    if (!BRIDGE_PATTERN.test(String(n.bridge))) errs.push(`${f}.bridge: "${n.bridge}" is not a valid bridge name`);
    errs.push(...oneOf(`${f}.model`, n.model, ['virtio', 'e1000'] as const));
    const mac = String(n.mac);
    if (!MAC_PATTERN.test(mac)) {
      errs.push(`${f}.mac: "${mac}" must match ${MAC_PATTERN.source}`);
    } else {
      // Bit 0 of the first octet is the I/G bit: set means multicast/broadcast,
      // which no NIC may use as its own address.
      if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) errs.push(`${f}.mac: "${mac}" is a multicast address, must be unicast`);
      if (mac === '00:00:00:00:00:00') errs.push(`${f}.mac: must not be all zeros`);
      const prevMac = macs.get(mac);
      if (prevMac !== undefined) errs.push(`${f}.mac: duplicate MAC "${mac}" (also interfaces[${prevMac}])`);
      else macs.set(mac, i);
    }
    checkBoot(f, n.bootOrder);
  });

  if (spec.graphics !== undefined) {
    errs.push(...oneOf('graphics.type', spec.graphics.type, ['vnc'] as const));
    if (spec.graphics.listen !== undefined && !/^[0-9A-Fa-f:.]+$/.test(spec.graphics.listen)) {
      errs.push(`graphics.listen: "${spec.graphics.listen}" must be an IP address`);
    }
  }
  if (spec.onLockFailure !== undefined) {
    errs.push(...oneOf('onLockFailure', spec.onLockFailure, ['poweroff', 'pause', 'ignore'] as const));
  }
  if (spec.lease !== undefined) {
    for (const field of ['lockspace', 'key'] as const) {
      const v: unknown = spec.lease[field];
      if (typeof v !== 'string' || !LEASE_NAME_PATTERN.test(v) || v === '.' || v === '..') {
        errs.push(`lease.${field}: "${String(v)}" must be 1-255 characters of [A-Za-z0-9_.-]`);
      }
    }
    errs.push(...pathErrors('lease.targetPath', spec.lease.targetPath));
  }
  return errs;
}
