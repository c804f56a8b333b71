/**
 * `<disk>` elements and the deterministic assignment of guest target names.
 *
 * @packageDocumentation
 */
import { buildBootOrder } from './os.js';
import type { DiskBus, DiskCache, DiskSpec, XmlElement } from './types.js';

/** Cache mode written when a disk does not set one (see `DiskCache`). */
export const DEFAULT_DISK_CACHE: DiskCache = 'none';

/** Prefix of the libvirt user alias that carries a disk's spec name. */
export const DISK_ALIAS_PREFIX = 'ua-disk-';

/**
 * Target name prefix of a bus. `sata` and `scsi` both use `sd`: in libvirt
 * and in the guest they share one name space, so they share one counter.
 */
export function targetPrefix(bus: DiskBus): 'vd' | 'sd' {
  return bus === 'virtio' ? 'vd' : 'sd';
}

/**
 * Target name for a zero-based index, the way libvirt and Linux count:
 * a…z, then aa…az, ba…, i.e. bijective base 26 (index 0 → `vda`,
 * 25 → `vdz`, 26 → `vdaa`).
 */
export function diskTargetName(prefix: string, index: number): string {
  let n = index + 1;
  let suffix = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    suffix = String.fromCharCode(97 + rem) + suffix;
    n = Math.floor((n - 1) / 26);
  }
  return prefix + suffix;
}

/**
 * Guest target names for `disks`, in the same order. Explicit `target`s are
 * kept; every other disk gets, in list order, the lowest name of its bus
 * prefix that no explicit target and no earlier disk took. The result
 * depends only on the list, so the same spec always yields the same names.
 * Duplicated explicit targets are returned as given (validation reports them).
 */
export function assignDiskTargets(disks: readonly Pick<DiskSpec, 'bus' | 'target'>[]): string[] {
  const taken = new Set<string>();
  for (const d of disks) if (d.target !== undefined) taken.add(d.target);
  const next = new Map<string, number>();
  return disks.map((d) => {
    if (d.target !== undefined) return d.target;
    const prefix = targetPrefix(d.bus);
    let i = next.get(prefix) ?? 0;
    let name = diskTargetName(prefix, i);
    while (taken.has(name)) name = diskTargetName(prefix, ++i);
    taken.add(name);
    next.set(prefix, i + 1);
    return name;
  });
}

/** libvirt user alias of a disk (`ua-disk-<name>`); user aliases survive define, start and migration. */
export function diskAlias(name: string): string {
  return DISK_ALIAS_PREFIX + name;
}

/** One `<disk>` element for a disk and its already assigned target. */
export function buildDisk(disk: DiskSpec, target: string): XmlElement {
  const device = disk.device ?? 'disk';
  const driver: XmlElement = { '@_name': 'qemu', '@_type': disk.format, '@_cache': disk.cache ?? DEFAULT_DISK_CACHE };
  // Pause the VM on a read or write error instead of passing the error to
  // the guest (QEMU's default pauses only on ENOSPC): a guest whose storage
  // failed under it then stops writing, shows as paused (reason ioerror), and
  // the HA logic can kill it and restart it elsewhere (oVirt does the same).
  // A cdrom keeps reporting errors: a bad ISO must not freeze the VM.
  if (device === 'disk') driver['@_error_policy'] = 'stop';
  const el: XmlElement = {
    '@_type': 'file',
    '@_device': device,
    driver,
    source: { '@_file': disk.path },
    target: { '@_dev': target, '@_bus': disk.bus },
  };
  // A cdrom is read-only whatever the spec says; writing <readonly/> keeps
  // the defined XML equal to what libvirt reports back.
  if (disk.readOnly === true || device === 'cdrom') el.readonly = '';
  if (disk.serial !== undefined) el.serial = disk.serial;
  const boot = buildBootOrder(disk.bootOrder);
  if (boot !== undefined) el.boot = boot;
  el.alias = { '@_name': diskAlias(disk.name) };
  return el;
}

/** All `<disk>` elements, with targets from {@link assignDiskTargets}. */
export function buildDisks(disks: readonly DiskSpec[]): XmlElement[] {
  const targets = assignDiskTargets(disks);
  return disks.map((d, i) => buildDisk(d, targets[i] ?? ''));
}
