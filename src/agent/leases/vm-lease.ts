/**
 * The per-VM lease the agent adds to every domain it defines under lockd,
 * so that VMs without a writable disk (kernel-boot-only guests) are
 * protected too, and every VM holds a lease named by its UID whatever its
 * disks are.
 *
 * Why the lease lives in lockd's `file_lockspace_dir` and not under each
 * storage domain: virtlockd only acquires resources in lockspaces it has
 * registered, and it registers just the configured directories (checked in
 * libvirt 9.0: a `<lease>` whose `<target path>/<lockspace>` is any other
 * directory fails with "Lockspace for path ... does not exist"). libvirt
 * builds the lockspace of a `<lease>` as `<target path>/<lockspace>`, so a
 * lease with target = the parent of `file_lockspace_dir` and lockspace =
 * its last component lands in the registered lockspace, as the file
 * `<file_lockspace_dir>/<uid>`. Explicit leases are not auto-created by
 * virtlockd: the agent creates the (empty) file before defining.
 *
 * @packageDocumentation
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { LeaseConfig } from './config.js';

/** A `<lease>` element: libvirt acquires `<targetPath>/<lockspace>/<key>`. */
export interface VmLease {
  lockspace: string;
  key: string;
  targetPath: string;
  /** The lease file (`<targetPath>/<lockspace>/<key>`). */
  file: string;
}

const UID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The VM's lease under `config`, or undefined when there is none to add:
 * not lockd, no lockspace directory, or one whose configured spelling
 * (virtlockd looks lockspaces up by the exact string) cannot be rebuilt
 * as `<parent>/<name>`, e.g. with a trailing slash or `..`.
 */
export function vmLease(config: LeaseConfig, uid: string): VmLease | undefined {
  if (config.manager !== 'lockd' || config.lockspace === undefined) return undefined;
  if (!UID_PATTERN.test(uid)) return undefined;
  const dir = config.lockspace;
  if (!path.isAbsolute(dir) || path.normalize(dir) !== dir || dir === '/' || dir.endsWith('/')) return undefined;
  const targetPath = path.dirname(dir);
  const lockspace = path.basename(dir);
  if (`${targetPath === '/' ? '' : targetPath}/${lockspace}` !== dir) return undefined;
  // A target of "/" would give "//name"; lockspaces directly under / are not worth the special case.
  if (targetPath === '/') return undefined;
  return { lockspace, key: uid, targetPath, file: path.join(dir, uid) };
}

/**
 * Creates the lease file when it does not exist (empty, 0600: virtlockd
 * only locks it). Never truncates or replaces an existing one: its inode is
 * what another host's virtlockd may hold a lock on, and a new inode would
 * be a second, unlocked lease.
 */
export async function ensureLeaseFile(lease: VmLease): Promise<void> {
  const fh = await open(lease.file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  await fh.close();
}

/** What {@link vmLeaseProvider} logs. */
export interface LeaseLogger {
  warn(obj: object, msg: string): void;
}

/**
 * The `vmLease` hook of the VM service: the VM's lease under `config`,
 * with its file created. When the file cannot be created (lockspace
 * missing or read-only) the VM is defined without the lease and the
 * failure logged: it would otherwise fail every start, and VmInfo's
 * `leaseProtected` tells the operator the VM is not protected.
 */
export function vmLeaseProvider(config: LeaseConfig, log: LeaseLogger): (uid: string) => Promise<Omit<VmLease, 'file'> | undefined> {
  return async (uid) => {
    const lease = vmLease(config, uid);
    if (lease === undefined) return undefined;
    try {
      await ensureLeaseFile(lease);
    } catch (error) {
      log.warn({ uid, file: lease.file, err: error }, 'cannot create the VM lease file: VM defined without its own lease');
      return undefined;
    }
    return { lockspace: lease.lockspace, key: lease.key, targetPath: lease.targetPath };
  };
}
