/**
 * Making a connection usable on this host, per type:
 *
 * - LocalFS, and PosixFS without `vfsType`: the path must be an existing
 *   directory; it is used as is.
 * - PosixFS with `vfsType`: the path must be a mount point of that type.
 *   When it is not mounted yet and mounting is allowed, the agent runs
 *   `mount -t <vfsType> [-o <mountOptions>] --target <path>`, which takes the
 *   source from /etc/fstab: the StorageDomain API names no source for POSIX
 *   domains, so the host's fstab entry is where the admin says what backs
 *   the path (a Gluster volume, a CephFS, a block device...).
 * - NFS: mounted at `<stateDir>/mnt/<name>` with `mount -t nfs
 *   <server>:<path>`, where the kernel has NFS; elsewhere `Unavailable`.
 *
 * @packageDocumentation
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../../hypervisor/driver.js';
import { mount, mountAt, nfsSupported } from './mounts.js';
import type { DomainRecord } from './registry.js';
import type { StorageConnection } from './types.js';

/** Options for {@link attach}. */
export interface AttachOptions {
  stateDir: string;
  /** Whether the agent may run `mount` itself. */
  allowMount: boolean;
}

/** Mount point of an NFS domain. */
export function nfsMountPoint(stateDir: string, name: string): string {
  return path.join(stateDir, 'mnt', name);
}

async function requireDirectory(p: string): Promise<void> {
  const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new DriverError('NotFound', `${p} does not exist`);
    throw new DriverError('Unavailable', `${p}: ${err.message}`);
  });
  if (!st.isDirectory()) throw new DriverError('InvalidSpec', `${p} is not a directory`);
}

/** NFS source spec; an IPv6 server goes in brackets. */
function nfsSource(server: string, p: string): string {
  return `${server.includes(':') ? `[${server}]` : server}:${p}`;
}

/**
 * Brings the storage of `connection` up on this host and returns its
 * record. Idempotent: a mount already in place is reused.
 *
 * @throws DriverError `Unavailable` (no NFS in this kernel, mount failed or
 *   not allowed), `NotFound` (path missing), `Conflict` (mounted as another type).
 */
export async function attach(name: string, connection: StorageConnection, opts: AttachOptions): Promise<DomainRecord> {
  switch (connection.type) {
    case 'LocalFS':
      await requireDirectory(connection.path);
      return { name, connection, root: connection.path, mountedByUs: false };
    case 'PosixFS': {
      if (connection.vfsType === undefined) {
        await requireDirectory(connection.path);
        return { name, connection, root: connection.path, mountedByUs: false };
      }
      await requireDirectory(connection.path);
      const m = await mountAt(connection.path);
      if (m) {
        if (m.fsType !== connection.vfsType) {
          throw new DriverError('Conflict', `${connection.path} is mounted as ${m.fsType}, not ${connection.vfsType}`);
        }
        return { name, connection, root: connection.path, mountedByUs: false };
      }
      if (!opts.allowMount) throw new DriverError('Unavailable', `${connection.path} is not mounted and this agent does not mount`);
      await mount(connection.vfsType, undefined, connection.path, connection.mountOptions);
      return { name, connection, root: connection.path, mountedByUs: true };
    }
    case 'NFS': {
      if (!(await nfsSupported())) {
        throw new DriverError('Unavailable', 'NFS not supported by this kernel (no "nfs" in /proc/filesystems)');
      }
      const target = nfsMountPoint(opts.stateDir, name);
      await mkdir(target, { recursive: true, mode: 0o755 });
      const m = await mountAt(target);
      if (m) {
        if (!m.fsType.startsWith('nfs')) throw new DriverError('Conflict', `${target} is mounted as ${m.fsType}, not nfs`);
        return { name, connection, root: target, mountedByUs: true };
      }
      if (!opts.allowMount) throw new DriverError('Unavailable', `NFS domain ${name} is not mounted and this agent does not mount`);
      await mount('nfs', nfsSource(connection.server, connection.path), target, connection.mountOptions);
      return { name, connection, root: target, mountedByUs: true };
    }
  }
}

/**
 * Whether a recorded domain is usable now: its root is a directory and,
 * for mount-backed types, something is mounted there.
 */
export async function isAttached(rec: DomainRecord): Promise<boolean> {
  try {
    await requireDirectory(rec.root);
  } catch {
    return false;
  }
  const needsMount = rec.connection.type === 'NFS' || (rec.connection.type === 'PosixFS' && rec.connection.vfsType !== undefined);
  return needsMount ? (await mountAt(rec.root)) !== undefined : true;
}
