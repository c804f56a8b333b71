/**
 * `qemu-img` for disk volumes: create (thin), grow, inspect. argv only.
 * The image format is always passed explicitly (`-f`): letting qemu-img
 * probe it would let a guest that wrote a qcow2 header into a raw disk
 * point a "backing file" at any file on the host.
 *
 * @packageDocumentation
 */
import { execFile } from 'node:child_process';
import { DriverError } from '../../hypervisor/driver.js';

/** Volume image formats. */
export type ImageFormat = 'qcow2' | 'raw';

/** What `qemu-img info` says about an image. */
export interface ImageInfo {
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes: number;
  backingFile?: string;
}

/** qemu-img's lock conflict: the image is open read-write by a QEMU (a running VM). */
const LOCK_ERROR = /Failed to get "?(shared )?"?write"? lock|Is another process using the image/i;

const TIMEOUT_MS = 120_000;

function run(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'qemu-img',
      args,
      { env: { ...process.env, LC_ALL: 'C' }, timeout: TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const msg = (stderr || err.message).trim().replace(/^qemu-img:\s*/gm, '');
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new DriverError('Unavailable', 'qemu-img not found: install qemu-utils'));
        if (LOCK_ERROR.test(msg)) return reject(new DriverError('Conflict', `volume is in use: ${msg}`));
        reject(new DriverError('Failed', `qemu-img ${args[0] ?? ''} failed: ${msg}`));
      },
    );
  });
}

/**
 * Creates a thin image: qcow2 without preallocation, raw as a sparse file.
 * Overwrites `file` (callers reserve the name first, see the manager).
 */
export async function createImage(file: string, format: ImageFormat, sizeBytes: number): Promise<void> {
  const opts = format === 'qcow2' ? ['-o', 'preallocation=off'] : [];
  await run(['create', '-q', '-f', format, ...opts, file, String(sizeBytes)]);
}

/** Grows an image to `sizeBytes` (never shrinks: no `--shrink`). */
export async function growImage(file: string, format: ImageFormat, sizeBytes: number): Promise<void> {
  await run(['resize', '-q', '-f', format, file, String(sizeBytes)]);
}

/**
 * `qemu-img info --output=json`. With `forceShare` it reads an image a
 * running VM has open (`-U`); without it, the open fails with `Conflict`
 * while a QEMU holds the image, which is how deleteVolume detects use.
 */
export async function imageInfo(file: string, format: ImageFormat, forceShare = true): Promise<ImageInfo> {
  const out = await run(['info', '--output=json', '-f', format, ...(forceShare ? ['-U'] : []), file]);
  return parseImageInfo(out);
}

/** Parses `qemu-img info --output=json`. */
export function parseImageInfo(json: string): ImageInfo {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const format = raw['format'];
  const virtual = raw['virtual-size'];
  const actual = raw['actual-size'];
  if (typeof format !== 'string' || typeof virtual !== 'number') throw new Error('qemu-img info: missing format or virtual-size');
  const info: ImageInfo = { format, virtualSizeBytes: virtual, actualSizeBytes: typeof actual === 'number' ? actual : 0 };
  const backing = raw['backing-filename'];
  if (typeof backing === 'string') info.backingFile = backing;
  return info;
}
