/**
 * Confinement of paths to a storage domain root. A path is accepted only if
 * it is relative, has no `..` segment, stays under the root after
 * `path.resolve`, and stays under the root's real path after every symlink
 * on the way is resolved (`realpath`), so neither `../` nor a symlink
 * planted inside the domain reaches a file outside it.
 *
 * @packageDocumentation
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../../hypervisor/driver.js';

/** Whether `p` is `root` itself or below it (both absolute and normalised). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  // "..foo" is a fine name inside the root; only a whole ".." segment leaves it.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Checks the form of a root-relative path.
 *
 * @throws DriverError `InvalidSpec` for absolute paths, `..` segments,
 *   empty paths and control characters.
 */
export function checkRelative(rel: string): string {
  const bad = (why: string): never => {
    throw new DriverError('InvalidSpec', `path ${JSON.stringify(rel)} ${why}`);
  };
  if (typeof rel !== 'string' || rel === '') bad('must not be empty');
  if (path.isAbsolute(rel)) bad('must be relative to the storage domain');
  if (/[\x00-\x1f\x7f]/.test(rel)) bad('must not contain control characters');
  if (rel.split('/').includes('..')) bad('must not contain ".." segments');
  return rel;
}

/**
 * The real path of `root/rel`, which must exist and lie under the real path
 * of `root`.
 *
 * @throws DriverError `InvalidSpec` when it escapes the root (by `..` or a
 *   symlink), `NotFound` when it does not exist.
 */
export async function resolveExisting(root: string, rel: string): Promise<string> {
  checkRelative(rel);
  const joined = path.resolve(root, rel);
  if (!isInside(root, joined)) throw new DriverError('InvalidSpec', `path ${JSON.stringify(rel)} escapes the storage domain`);
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(joined);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DriverError('NotFound', `${rel} does not exist in the storage domain`);
    throw err;
  }
  if (!isInside(realRoot, real)) throw new DriverError('InvalidSpec', `path ${JSON.stringify(rel)} resolves outside the storage domain`);
  return real;
}

/**
 * A path for a file that may not exist yet, directly inside `dir` (which
 * must exist): `dir` is resolved with {@link resolveExisting}, and the
 * file itself must not be a symlink.
 *
 * @throws DriverError `InvalidSpec` when `dir` escapes `root` or the file is a symlink.
 */
export async function resolveChild(root: string, dirRel: string, file: string): Promise<string> {
  const dir = await resolveExisting(root, dirRel);
  if (file.includes('/') || file === '.' || file === '..') throw new DriverError('InvalidSpec', `file name ${JSON.stringify(file)} is not a plain name`);
  const p = path.join(dir, file);
  const st = await lstat(p).catch(() => undefined);
  if (st?.isSymbolicLink()) throw new DriverError('InvalidSpec', `${file} is a symbolic link; volumes must be regular files`);
  return p;
}
