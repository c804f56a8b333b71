/**
 * Finding and stopping test-host processes by pid.
 *
 * Processes are identified by pid plus start time (field 22 of
 * /proc/<pid>/stat), so a pid recorded by one process and acted on later by
 * another never hits an unrelated process that reused the number.
 */
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { sleep } from './exec.js';

/** Start time of a process in clock ticks since boot, or undefined if it is gone. */
export async function procStartTime(pid: number): Promise<number | undefined> {
  const st = await readStat(pid);
  return st?.startTime;
}

async function readStat(pid: number): Promise<{ state: string; startTime: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = Number(rest[19]);
  if (state === undefined || !Number.isFinite(startTime)) return undefined;
  return { state, startTime };
}

/**
 * Whether a process is running (zombies count as gone: they have exited and
 * only wait for their parent). When `startTime` is given the process must
 * also be the same incarnation.
 */
export async function isAlive(pid: number, startTime?: number): Promise<boolean> {
  const st = await readStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Inode of a namespace file (a /proc/<pid>/ns/* link or a bind mount of one). */
export async function nsInode(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).ino;
  } catch {
    return undefined;
  }
}

/** A process found in a namespace. */
export interface FoundProcess {
  pid: number;
  startTime: number;
  comm: string;
}

/**
 * Every process whose network or mount namespace is one of the given inodes
 * (e.g. libvirtd, virtlogd, virtlockd, QEMU and anything started with
 * `hostExec` inside a test host).
 */
export async function processesInNamespaces(inodes: { net?: Iterable<number>; mnt?: Iterable<number> }): Promise<FoundProcess[]> {
  const net = new Set(inodes.net ?? []);
  const mnt = new Set(inodes.mnt ?? []);
  const found: FoundProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const match = async (kind: 'net' | 'mnt', set: Set<number>): Promise<boolean> => {
      if (set.size === 0) return false;
      try {
        const link = await readlink(`/proc/${pid}/ns/${kind}`);
        const m = /\[(\d+)\]/.exec(link);
        return m?.[1] !== undefined && set.has(Number(m[1]));
      } catch {
        return false;
      }
    };
    if (!(await match('net', net)) && !(await match('mnt', mnt))) continue;
    const st = await readStat(pid);
    if (!st || st.state === 'Z') continue;
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    found.push({ pid, startTime: st.startTime, comm });
  }
  return found;
}

/**
 * Stops processes: SIGTERM, then SIGKILL for those still running after
 * `graceMs`. Returns once all are gone (or `killWaitMs` after SIGKILL).
 */
export async function terminate(
  procs: readonly { pid: number; startTime?: number }[],
  graceMs = 10_000,
  killWaitMs = 5_000,
): Promise<{ pid: number; startTime?: number }[]> {
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    for (const p of procs) {
      if (!(await isAlive(p.pid, p.startTime))) continue;
      try {
        process.kill(p.pid, sig);
      } catch {
        // Already gone between the check and the signal.
      }
    }
  };
  const waitGone = async (ms: number): Promise<{ pid: number; startTime?: number }[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const alive: { pid: number; startTime?: number }[] = [];
      for (const p of procs) if (await isAlive(p.pid, p.startTime)) alive.push(p);
      if (alive.length === 0 || Date.now() >= deadline) return alive;
      await sleep(100);
    }
  };
  await signal('SIGTERM');
  if ((await waitGone(graceMs)).length === 0) return [];
  await signal('SIGKILL');
  return waitGone(killWaitMs);
}
