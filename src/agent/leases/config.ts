/**
 * Which lease mechanism protects this host's VMs, read from the libvirt
 * configuration the agent sees (qemu.conf's `lock_manager`, then the lock
 * manager's own file), with libvirt's own defaults for unset settings.
 *
 * The operator uses the answer to judge whether "a start elsewhere
 * succeeded" proves the old instance is dead: only when every host runs the
 * same lock manager with the same lockspace on shared storage.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseLibvirtConf } from './libvirt-conf.js';

/** Lock managers the agent knows. */
export type LeaseManager = 'lockd' | 'sanlock' | 'none';

/** The lease settings of this host. */
export interface LeaseConfig {
  manager: LeaseManager;
  /**
   * Directory holding the leases: lockd's `file_lockspace_dir` (absent:
   * lockd leases the disk files themselves), sanlock's `disk_lease_dir`
   * when it leases disks automatically.
   */
  lockspace?: string;
  /** Whether every writable disk gets a lease without a `<lease>` element. */
  autoDiskLeases: boolean;
}

/** Default libvirt configuration directory. */
export const DEFAULT_LIBVIRT_CONFIG_DIR = '/etc/libvirt';

/** sanlock.conf's default `disk_lease_dir`. */
const SANLOCK_DEFAULT_LEASE_DIR = '/var/lib/libvirt/sanlock';

async function readConf(file: string): Promise<Map<string, string | number>> {
  try {
    return parseLibvirtConf(await readFile(file, 'utf8'));
  } catch (error) {
    // An absent file means libvirt's defaults, as for libvirt itself.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
}

function flag(value: string | number | undefined, fallback: boolean): boolean {
  return value === undefined ? fallback : Number(value) !== 0;
}

/** The lock manager named by qemu.conf (`lock_manager`; libvirt's default is none). */
function managerOf(qemuConf: Map<string, string | number>): LeaseManager {
  const v = qemuConf.get('lock_manager');
  if (v === 'lockd' || v === 'sanlock') return v;
  return 'none';
}

/**
 * Reads the lease settings from `configDir` (default /etc/libvirt).
 * `override` replaces the manager qemu.conf names (the agent's
 * `--lease-manager`); the manager's own settings are still read from its file.
 */
export async function readLeaseConfig(configDir = DEFAULT_LIBVIRT_CONFIG_DIR, override?: LeaseManager): Promise<LeaseConfig> {
  const manager = override ?? managerOf(await readConf(path.join(configDir, 'qemu.conf')));
  if (manager === 'lockd') {
    const conf = await readConf(path.join(configDir, 'qemu-lockd.conf'));
    // lockd defaults: auto_disk_leases on (src/locking/lock_driver_lockd.c).
    const result: LeaseConfig = { manager, autoDiskLeases: flag(conf.get('auto_disk_leases'), true) };
    const dir = conf.get('file_lockspace_dir');
    if (typeof dir === 'string' && dir !== '') result.lockspace = dir;
    return result;
  }
  if (manager === 'sanlock') {
    const conf = await readConf(path.join(configDir, 'qemu-sanlock.conf'));
    const autoDiskLeases = flag(conf.get('auto_disk_leases'), false);
    const result: LeaseConfig = { manager, autoDiskLeases };
    if (autoDiskLeases) {
      const dir = conf.get('disk_lease_dir');
      result.lockspace = typeof dir === 'string' && dir !== '' ? dir : SANLOCK_DEFAULT_LEASE_DIR;
    }
    return result;
  }
  return { manager: 'none', autoDiskLeases: false };
}
