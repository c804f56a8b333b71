/**
 * Whether a running domain holds a lease now, observed rather than assumed:
 * virtlockd holds each lease as a POSIX (fcntl) lock on the lease file, and
 * the kernel lists every lock this host holds in /proc/locks. A domain is
 * lease-protected when at least one of its lease files (its per-VM lease,
 * its automatic disk leases) is locked there.
 *
 * Observing catches what configuration alone would miss: libvirt releases a
 * domain's leases while it is paused (checked: the lock disappears on
 * suspend and returns on resume), and a virtlockd that lost its state holds
 * nothing. Under sanlock the agent cannot observe leases yet, so it never
 * claims protection there.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LeaseConfig } from './config.js';
import { vmLease } from './vm-lease.js';

/** One line of /proc/locks (waiters, `->` lines, are skipped). */
export interface ProcLock {
  /** POSIX (fcntl), FLOCK, OFDLCK, ... */
  kind: string;
  mode: string;
  major: number;
  minor: number;
  inode: bigint;
}

/** Parses /proc/locks: `1: POSIX  ADVISORY  WRITE 14619 fe:00:5375041 0 0`. */
export function parseProcLocks(text: string): ProcLock[] {
  const locks: ProcLock[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+\S+\s+(\S+)\s+-?\d+\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i.exec(line);
    if (!m) continue;
    locks.push({ kind: m[1]!, mode: m[2]!, major: parseInt(m[3]!, 16), minor: parseInt(m[4]!, 16), inode: BigInt(m[5]!) });
  }
  return locks;
}

/** Major and minor number of a `st_dev` as Node (libuv, glibc's makedev encoding) reports it. */
export function splitDev(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n));
  return { major, minor };
}

/** What {@link leaseFiles} needs of a VM. */
export interface LeaseSubject {
  uid: string;
  disks?: { path?: string; readOnly: boolean }[];
}

/**
 * The files whose lock means "this VM holds a lease" under lockd: its
 * per-VM lease, and for each writable disk its automatic lease (lockd names
 * it by the SHA-256 of the disk path inside `file_lockspace_dir`, or, with
 * no lockspace directory, locks the disk file itself). Read-only disks get
 * no lease from lockd.
 */
export function leaseFiles(config: LeaseConfig, vm: LeaseSubject): string[] {
  if (config.manager !== 'lockd') return [];
  const files: string[] = [];
  const own = vmLease(config, vm.uid);
  if (own) files.push(own.file);
  if (config.autoDiskLeases) {
    for (const d of vm.disks ?? []) {
      if (d.readOnly || d.path === undefined) continue;
      files.push(config.lockspace ? path.join(config.lockspace, createHash('sha256').update(d.path).digest('hex')) : d.path);
    }
  }
  return files;
}

/** Options of {@link LeaseInspector}. */
export interface LeaseInspectorOptions {
  /** Where the kernel lists locks (tests point it at a file). */
  procLocksPath?: string;
}

/** Answers "does this running VM hold a lease" from /proc/locks. */
export class LeaseInspector {
  private readonly procLocksPath: string;

  constructor(
    private readonly config: LeaseConfig,
    options: LeaseInspectorOptions = {},
  ) {
    this.procLocksPath = options.procLocksPath ?? '/proc/locks';
  }

  /** Reads the lock table once, for a batch of questions. */
  async snapshot(): Promise<(vm: LeaseSubject) => Promise<boolean>> {
    if (this.config.manager !== 'lockd') return async () => false;
    const locks = parseProcLocks(await readFile(this.procLocksPath, 'utf8')).filter((l) => l.kind === 'POSIX');
    const locked = new Set(locks.map((l) => `${l.major}:${l.minor}:${l.inode}`));
    return async (vm) => {
      for (const file of leaseFiles(this.config, vm)) {
        const st = await stat(file, { bigint: true }).catch(() => undefined);
        if (st === undefined) continue;
        const { major, minor } = splitDev(st.dev);
        if (locked.has(`${major}:${minor}:${st.ino}`)) return true;
      }
      return false;
    };
  }
}

/** A VM answer that may carry `leaseProtected`. */
interface VmAnswer extends LeaseSubject {
  state: string;
  leaseProtected?: boolean;
}

/**
 * Sets `leaseProtected` on each VM answer: true only for an active domain
 * (not shut off, not paused) whose lease is locked now. When the lock table
 * cannot be read the answer says false: never claim a protection not seen.
 */
export async function withLeaseState<T extends VmAnswer>(inspector: LeaseInspector, vms: T[]): Promise<(T & { leaseProtected: boolean })[]> {
  let holds: ((vm: LeaseSubject) => Promise<boolean>) | undefined;
  try {
    holds = await inspector.snapshot();
  } catch {
    holds = undefined;
  }
  return Promise.all(
    vms.map(async (vm) => {
      const active = vm.state !== 'shut off' && vm.state !== 'paused';
      return { ...vm, leaseProtected: active && holds !== undefined ? await holds(vm) : false };
    }),
  );
}
