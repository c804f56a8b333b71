/**
 * Name and connection checks for the storage verbs. Every name becomes part
 * of a path, so anything that is not a DNS-1123 label is refused before any
 * path is built from it.
 *
 * @packageDocumentation
 */
import { DriverError } from '../../hypervisor/driver.js';
import type { StorageConnection } from './types.js';

/** A DNS-1123 label, as in the Kubernetes API. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Lower-case UUID (a Kubernetes UID), the storage domain's identity on disk. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Mount options as the StorageDomain API allows them (no spaces, quotes or shell syntax). */
const MOUNT_OPTIONS = /^[A-Za-z0-9_=.,:/@-]{1,1024}$/;

/** File system type names (ext4, xfs, glusterfs, ceph, fuse.sshfs...). */
const VFS_TYPE = /^[a-z0-9._-]{1,32}$/;

/** NFS server: a host name or an IP address (v6 without brackets). */
const NFS_SERVER = /^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$/;

/** @throws DriverError `InvalidSpec` unless `name` is a DNS-1123 label. */
export function checkName(what: string, name: string): string {
  if (typeof name !== 'string' || !DNS1123_LABEL.test(name)) {
    throw new DriverError('InvalidSpec', `${what} ${JSON.stringify(name)} must be a DNS-1123 label`);
  }
  return name;
}

/** @throws DriverError `InvalidSpec` unless `uuid` is a lower-case UUID. */
export function checkUuid(uuid: string): string {
  if (typeof uuid !== 'string' || !UUID_PATTERN.test(uuid)) {
    throw new DriverError('InvalidSpec', `storage domain uuid ${JSON.stringify(uuid)} must be a lower-case UUID`);
  }
  return uuid;
}

/**
 * An absolute, normalised path: no `..` or `.` segments, no empty segments,
 * no control characters. Symlinks are checked where the path is used.
 *
 * @throws DriverError `InvalidSpec` otherwise.
 */
export function checkAbsolutePath(what: string, p: string): string {
  const bad = (why: string): never => {
    throw new DriverError('InvalidSpec', `${what} ${JSON.stringify(p)} ${why}`);
  };
  if (typeof p !== 'string' || !p.startsWith('/')) bad('must be an absolute path');
  if (/[\x00-\x1f\x7f]/.test(p)) bad('must not contain control characters');
  const segments = p.split('/').slice(1);
  if (p !== '/' && segments.some((s) => s === '' || s === '.' || s === '..')) bad('must be normalised (no "", "." or ".." segments)');
  return p;
}

/** Checks every field of a connection; returns it unchanged. */
export function checkConnection(c: StorageConnection): StorageConnection {
  switch (c.type) {
    case 'LocalFS':
      checkAbsolutePath('path', c.path);
      break;
    case 'PosixFS':
      checkAbsolutePath('path', c.path);
      if (c.vfsType !== undefined && !VFS_TYPE.test(c.vfsType)) throw new DriverError('InvalidSpec', `vfsType ${JSON.stringify(c.vfsType)} is not a file system type`);
      if (c.mountOptions !== undefined && !MOUNT_OPTIONS.test(c.mountOptions)) {
        throw new DriverError('InvalidSpec', `mountOptions ${JSON.stringify(c.mountOptions)} is not a list of mount options`);
      }
      break;
    case 'NFS':
      if (!NFS_SERVER.test(c.server)) throw new DriverError('InvalidSpec', `server ${JSON.stringify(c.server)} must be a host name or IP address`);
      checkAbsolutePath('path', c.path);
      if (c.mountOptions !== undefined && !MOUNT_OPTIONS.test(c.mountOptions)) {
        throw new DriverError('InvalidSpec', `mountOptions ${JSON.stringify(c.mountOptions)} is not a list of mount options`);
      }
      break;
    default:
      throw new DriverError('InvalidSpec', `unknown storage connection type ${JSON.stringify((c as { type?: unknown }).type)}`);
  }
  return c;
}

/** Whether two connections describe the same storage. */
export function sameConnection(a: StorageConnection, b: StorageConnection): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(c: StorageConnection): unknown {
  switch (c.type) {
    case 'LocalFS':
      return [c.type, c.path];
    case 'PosixFS':
      return [c.type, c.path, c.vfsType ?? null, c.mountOptions ?? null];
    case 'NFS':
      return [c.type, c.server, c.path, c.mountOptions ?? null];
  }
}
