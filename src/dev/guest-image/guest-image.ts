/**
 * Drover's tiny test guest: a Debian cloud kernel plus a busybox initramfs
 * whose /init brings up eth0 from the kernel command line and serves HTTP.
 *
 * Built at test time from Debian packages, without installing them on the
 * host, and cached outside the repository under a key that covers every
 * input, so the first build costs a download and later ones are free.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { runChecked } from '../testbed/exec.js';
import { aptCandidates, aptDownload, debExtract, kernelFromMeta } from './apt.js';
import { resolveLoadOrder } from './kmod.js';

/** Where built images are cached by default (outside the repository). */
export const DEFAULT_GUEST_CACHE_DIR = '/var/cache/drover/guest';

/** Debian meta package whose dependency names the versioned cloud kernel. */
export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

/** Debian package providing a statically linked busybox. */
export const BUSYBOX_PACKAGE = 'busybox-static';

/**
 * Modules loaded by the guest's /init. In the Debian cloud kernel the virtio
 * stack (virtio, virtio_ring, virtio_pci, virtio_net with net_failover and
 * failover, virtio_blk) is built as modules, not into the kernel, so without
 * them the guest has no NIC. `button` + `evdev` let the guest react to the
 * ACPI power button (`virsh shutdown`). Dependencies are added automatically.
 */
export const GUEST_MODULES: readonly string[] = [
  'virtio_pci',
  'virtio_net',
  'virtio_blk',
  'virtio_rng',
  'virtio_balloon',
  'button',
  'evdev',
];

/**
 * Kernel command line every guest boot needs; callers append the
 * `drover.*` parameters (see {@link guestCmdline}).
 * `console=ttyS0` puts the console (and the ready marker) on the serial port,
 * `panic=-1` turns a kernel panic into an immediate reboot/exit instead of a hang,
 * `loglevel=4` keeps the slow emulated serial port quiet.
 */
export const GUEST_CMDLINE_BASE = 'console=ttyS0 panic=-1 loglevel=4';

/** Line the guest prints on its console once HTTP is being served. */
export const GUEST_READY_MARKER = 'DROVER-GUEST-READY';

/** Bumped whenever the build procedure changes in a way the inputs don't show. */
const BUILDER_VERSION = 1;

/** Runs on the ACPI power-button event (busybox acpid): a clean, immediate poweroff. */
const POWER_BUTTON_SCRIPT = '#!/bin/sh\nsync\npoweroff -f\n';

/** A built, cached guest image. */
export interface GuestImage {
  /** Cache directory holding this image's files. */
  dir: string;
  /** Cache key (hash of all inputs). */
  key: string;
  /** Kernel for `<os><kernel>` (bzImage from the Debian package). */
  kernel: string;
  /** gzip'd newc cpio initramfs for `<os><initrd>`. */
  initrd: string;
  /** Base kernel command line; append `drover.ip=`, `drover.gw=`, `drover.name=`. */
  cmdlineBase: string;
  /** The statically linked busybox that went into the image (usable on the host too). */
  busybox: string;
  /** `uname -r` of the guest kernel. */
  kernelRelease: string;
  /** Debian package and version the kernel came from. */
  kernelPackage: string;
  kernelVersion: string;
  /** busybox-static version. */
  busyboxVersion: string;
  /** Modules in the initramfs, in load order. */
  modules: string[];
}

/** Network identity of one guest boot. */
export interface GuestNetwork {
  /** Address with prefix length, e.g. `10.247.83.101/24`. */
  ip: string;
  /** Default gateway (optional). */
  gateway?: string;
  /** Guest hostname, also returned by `GET /`. Must not contain whitespace. */
  name: string;
}

/** Full kernel command line for a guest boot. */
export function guestCmdline(image: Pick<GuestImage, 'cmdlineBase'>, net: GuestNetwork): string {
  for (const [k, v] of Object.entries(net)) {
    if (typeof v === 'string' && /\s/.test(v)) throw new Error(`guestCmdline: ${k} must not contain whitespace`);
  }
  const parts = [image.cmdlineBase, `drover.ip=${net.ip}`, `drover.name=${net.name}`];
  if (net.gateway) parts.push(`drover.gw=${net.gateway}`);
  return parts.join(' ');
}

/**
 * Returns the cached guest image for the current Debian package versions,
 * building it first if needed.
 *
 * @param cacheDir - cache root (default {@link DEFAULT_GUEST_CACHE_DIR}); the
 *   image lands in `<cacheDir>/<key>` where the key covers the kernel and
 *   busybox package versions, the init script, the module list and the
 *   builder version.
 */
export async function ensureGuestImage(cacheDir: string = DEFAULT_GUEST_CACHE_DIR): Promise<GuestImage> {
  const [[metaPkg, busyboxPkg], initScript] = await Promise.all([
    aptCandidates([KERNEL_META_PACKAGE, BUSYBOX_PACKAGE]),
    readFile(initScriptPath()),
  ]);
  if (!metaPkg || !busyboxPkg) throw new Error('apt returned too few packages');
  const kernelPkg = kernelFromMeta(metaPkg);
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        builder: BUILDER_VERSION,
        kernel: [kernelPkg.name, kernelPkg.version],
        busybox: [busyboxPkg.name, busyboxPkg.version],
        init: createHash('sha256').update(initScript).digest('hex'),
        power: POWER_BUTTON_SCRIPT,
        modules: GUEST_MODULES,
        cmdline: GUEST_CMDLINE_BASE,
      }),
    )
    .digest('hex')
    .slice(0, 20);
  const dir = path.join(cacheDir, key);
  const cached = await readManifest(dir);
  if (cached) return cached;

  await mkdir(cacheDir, { recursive: true, mode: 0o755 });
  // Build next to the final place and rename: a crash leaves only a .build-*
  // directory, and two concurrent builders cannot publish a half image.
  const work = await mkdtemp(path.join(cacheDir, '.build-'));
  try {
    const debs = path.join(work, 'debs');
    const kroot = path.join(work, 'kernel');
    const broot = path.join(work, 'busybox');
    await Promise.all([mkdir(debs), mkdir(kroot), mkdir(broot)]);
    const [kdeb, bdeb] = await Promise.all([aptDownload(kernelPkg, debs), aptDownload(busyboxPkg, debs)]);
    await Promise.all([debExtract(kdeb, kroot), debExtract(bdeb, broot)]);

    const releases = await readdir(path.join(kroot, 'lib/modules'));
    const kernelRelease = releases[0];
    if (releases.length !== 1 || kernelRelease === undefined) {
      throw new Error(`expected one kernel release in ${kdeb}, found: ${releases.join(', ')}`);
    }
    const vmlinuz = path.join(kroot, 'boot', `vmlinuz-${kernelRelease}`);
    const busybox = path.join(broot, 'bin/busybox');
    const modules = await resolveLoadOrder(path.join(kroot, 'lib/modules', kernelRelease), GUEST_MODULES);

    const out = path.join(work, 'out');
    await mkdir(out, { mode: 0o755 });
    const staging = path.join(work, 'initramfs');
    await stageInitramfs(staging, { busybox, initScript, modules });
    await packInitramfs(staging, busybox, path.join(out, 'initrd.img'));
    await copyFile(vmlinuz, path.join(out, 'vmlinuz'));
    await copyFile(busybox, path.join(out, 'busybox'));
    // World-readable: QEMU runs as libvirt-qemu, and libvirt's DAC labelling
    // restores the original owner (root) when a domain stops.
    await chmod(path.join(out, 'vmlinuz'), 0o644);
    await chmod(path.join(out, 'initrd.img'), 0o644);
    await chmod(path.join(out, 'busybox'), 0o755);

    const image: GuestImage = {
      dir,
      key,
      kernel: path.join(dir, 'vmlinuz'),
      initrd: path.join(dir, 'initrd.img'),
      cmdlineBase: GUEST_CMDLINE_BASE,
      busybox: path.join(dir, 'busybox'),
      kernelRelease,
      kernelPackage: kernelPkg.name,
      kernelVersion: kernelPkg.version,
      busyboxVersion: busyboxPkg.version,
      modules: modules.map((m) => m.name),
    };
    await writeFile(path.join(out, 'manifest.json'), `${JSON.stringify(image, null, 2)}\n`);
    try {
      await rename(out, dir);
    } catch (err) {
      // Somebody else published the same key first: theirs is as good as ours.
      const other = await readManifest(dir);
      if (!other) throw err;
      return other;
    }
    return image;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Reads a published image's manifest, or `undefined` if it isn't complete. */
async function readManifest(dir: string): Promise<GuestImage | undefined> {
  try {
    const image = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as GuestImage;
    await Promise.all([stat(image.kernel), stat(image.initrd), stat(image.busybox)]);
    return image;
  } catch {
    return undefined;
  }
}

/**
 * Locates init.sh. Next to this module when running from `src/` (ts-jest,
 * tsx); when running compiled from `dist/dev/guest-image/`, tsc did not copy
 * the asset, so fall back to the source tree.
 */
function initScriptPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.join(here, 'init.sh'),
    path.resolve(here, '../../../src/dev/guest-image/init.sh'),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`guest init script not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Lays out the initramfs tree: busybox, /init, modules, config. */
async function stageInitramfs(
  root: string,
  parts: { busybox: string; initScript: Buffer; modules: { name: string; file: string }[] },
): Promise<void> {
  const dirs = ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'run', 'var/log', 'etc/drover', 'etc/acpi/PWRF', 'lib/modules'];
  for (const d of dirs) await mkdir(path.join(root, d), { recursive: true, mode: 0o755 });
  await copyFile(parts.busybox, path.join(root, 'bin/busybox'));
  await chmod(path.join(root, 'bin/busybox'), 0o755);
  await writeFile(path.join(root, 'init'), parts.initScript, { mode: 0o755 });
  await writeFile(path.join(root, 'etc/acpi/PWRF/00000080'), POWER_BUTTON_SCRIPT, { mode: 0o755 });
  for (const m of parts.modules) await copyFile(m.file, path.join(root, 'lib/modules', `${m.name}.ko`));
  await writeFile(path.join(root, 'etc/drover/modules'), parts.modules.map((m) => `${m.name}\n`).join(''));
  // The kernel opens /dev/console for init's stdio before /init can mount
  // devtmpfs; without this node the ready marker would never reach the serial port.
  await runChecked(['mknod', '-m', '600', path.join(root, 'dev/console'), 'c', '5', '1']);
}

/**
 * Packs a staged tree into a gzip'd newc cpio archive with `busybox cpio`
 * (plain `cpio` is not necessarily installed; the extracted busybox is).
 */
async function packInitramfs(root: string, busybox: string, dest: string): Promise<void> {
  const names = await listTree(root);
  const child = spawn(busybox, ['cpio', '-o', '-H', 'newc'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  child.stdin.end(names.map((n) => `${n}\n`).join(''));
  await pipeline(child.stdout, createGzip({ level: 9 }), createWriteStream(dest, { mode: 0o644 }));
  const code = await exited;
  if (code !== 0) throw new Error(`busybox cpio failed (${String(code)}): ${Buffer.concat(stderr).toString('utf8')}`);
}

/** Relative paths of a tree, each directory before its contents, sorted for reproducibility. */
async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      out.push(p);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk('');
  return out;
}
