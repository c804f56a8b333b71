/**
 * Disk volumes inside a formatted domain's `images/` directory: one image
 * file per volume, `<volume>.qcow2` or `<volume>.raw`, made with qemu-img.
 *
 * @packageDocumentation
 */
import { lstat, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../../hypervisor/driver.js';
import { IMAGES } from './layout.js';
import { DNS1123_LABEL, checkName } from './names.js';
import { createImage, growImage, imageInfo, type ImageFormat } from './qemu-img.js';
import { resolveChild, resolveExisting } from './safe-path.js';
import type { VolumeInfo } from './types.js';

/** Formats in lookup order. */
const FORMATS: readonly ImageFormat[] = ['qcow2', 'raw'];

/** qemu-img works in 512-byte sectors; other sizes would be rounded silently. */
const SECTOR = 512;

/** Where a domain's volumes live: its root and its UUID directory. */
export interface VolumeArea {
  /** Storage domain name (for VolumeInfo.domain). */
  domain: string;
  /** Connection root. */
  root: string;
  /** The formatted domain's UUID (its directory under the root). */
  uuid: string;
}

function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % SECTOR !== 0) {
    throw new DriverError('InvalidSpec', `volume size ${sizeBytes} must be a positive multiple of ${SECTOR} bytes`);
  }
}

function checkFormat(format: string): ImageFormat {
  if (!FORMATS.includes(format as ImageFormat)) throw new DriverError('InvalidSpec', `volume format must be qcow2 or raw, got ${JSON.stringify(format)}`);
  return format as ImageFormat;
}

/** The image path for a volume and format, confined to the area (see safe-path.ts). */
async function volumePath(area: VolumeArea, volume: string, format: ImageFormat): Promise<string> {
  return resolveChild(area.root, path.join(area.uuid, IMAGES), `${checkName('volume name', volume)}.${format}`);
}

/** The existing image of a volume (regular file), in whichever format it has. */
async function findImage(area: VolumeArea, volume: string): Promise<{ file: string; format: ImageFormat } | undefined> {
  for (const format of FORMATS) {
    const file = await volumePath(area, volume, format);
    const st = await lstat(file).catch(() => undefined);
    if (st?.isFile()) return { file, format };
  }
  return undefined;
}

async function describe(area: VolumeArea, volume: string, file: string, format: ImageFormat): Promise<VolumeInfo> {
  const info = await imageInfo(file, format);
  return { name: volume, domain: area.domain, format, virtualSizeBytes: info.virtualSizeBytes, actualSizeBytes: info.actualSizeBytes, path: file };
}

/** A volume, or undefined when it does not exist. */
export async function getVolume(area: VolumeArea, volume: string): Promise<VolumeInfo | undefined> {
  const found = await findImage(area, volume);
  return found ? describe(area, volume, found.file, found.format) : undefined;
}

/** Every volume, by name. Files that are not `<label>.<format>` regular files are ignored. */
export async function listVolumes(area: VolumeArea): Promise<VolumeInfo[]> {
  const dir = await resolveExisting(area.root, path.join(area.uuid, IMAGES));
  const out: VolumeInfo[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const m = /^(.+)\.(qcow2|raw)$/.exec(e.name);
    if (!e.isFile() || !m?.[1] || !DNS1123_LABEL.test(m[1])) continue;
    out.push(await describe(area, m[1], path.join(dir, e.name), m[2] as ImageFormat));
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Creates a thin volume. The file name is reserved first with O_EXCL, so
 * two concurrent creates of one name cannot both succeed, and qemu-img
 * never overwrites an existing volume.
 *
 * @throws DriverError `Conflict` when the volume exists (in any format).
 */
export async function createVolume(area: VolumeArea, volume: string, sizeBytes: number, format: string = 'qcow2'): Promise<VolumeInfo> {
  const fmt = checkFormat(format);
  checkSize(sizeBytes);
  if (await findImage(area, volume)) throw new DriverError('Conflict', `volume ${volume} already exists in ${area.domain}`);
  const file = await volumePath(area, volume, fmt);
  // 0600: disk contents are private; libvirt hands the file to QEMU's user when a VM starts.
  const fh = await open(file, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new DriverError('Conflict', `volume ${volume} already exists in ${area.domain}`);
    throw err;
  });
  await fh.close();
  try {
    await createImage(file, fmt, sizeBytes);
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  return describe(area, volume, file, fmt);
}

/**
 * Grows a volume to `sizeBytes` (offline: qemu-img needs the write lock,
 * so a volume a running VM uses gives `Conflict`; growing a disk of a
 * running VM is libvirt's `blockresize`, not a storage verb).
 *
 * @throws DriverError `InvalidSpec` for a smaller size (shrinking loses data), `NotFound`.
 */
export async function resizeVolume(area: VolumeArea, volume: string, sizeBytes: number): Promise<VolumeInfo> {
  checkSize(sizeBytes);
  const found = await findImage(area, volume);
  if (!found) throw new DriverError('NotFound', `volume ${volume} not found in ${area.domain}`);
  const current = await describe(area, volume, found.file, found.format);
  if (sizeBytes < current.virtualSizeBytes) {
    throw new DriverError('InvalidSpec', `volume ${volume} is ${current.virtualSizeBytes} bytes; shrinking to ${sizeBytes} is refused`);
  }
  if (sizeBytes === current.virtualSizeBytes) return current;
  await growImage(found.file, found.format, sizeBytes);
  return describe(area, volume, found.file, found.format);
}

/**
 * Deletes a volume. Before unlinking, the image is opened without `-U`:
 * QEMU holds a write lock on the disks of a running VM, so a volume in use
 * on this host (or, where the file system propagates the locks, on another)
 * is refused with `Conflict`. The caller still checks its VMs: a stopped VM
 * that will use the volume again holds no lock.
 *
 * @throws DriverError `NotFound`, `Conflict`.
 */
export async function deleteVolume(area: VolumeArea, volume: string): Promise<void> {
  const found = await findImage(area, volume);
  if (!found) throw new DriverError('NotFound', `volume ${volume} not found in ${area.domain}`);
  await imageInfo(found.file, found.format, false);
  await rm(found.file);
}
