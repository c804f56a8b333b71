/**
 * What the test-bed hosts say about a live migration that failed: each
 * host's job info (current and completed), the domain's state, its
 * processes (states, wait channels, kernel stacks, locks), TCP sockets,
 * neighbour table and link MACs, the ends of its QEMU log and of libvirtd's
 * log for the migration's window, and the kernel's bridge warnings. Migrations
 * failed intermittently in CI and passed alone afterwards, and the state
 * directory is removed after a run, so the evidence goes into the failure
 * itself (and, in full, into a directory under the test state directory).
 */
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hostExec, hostProcesses, runChecked, type TestbedHost } from '../../src/dev/testbed/index.js';

/** The domain whose migration failed and the window it ran in. */
export interface MigrationWindow {
  /** Domain name (the QEMU log file is named after it). */
  name: string;
  /** Name or UUID virsh is asked about; defaults to `name`. */
  id?: string;
  /** When the migration started (libvirtd log lines before it are left out). */
  since: Date;
}

/** How many lines of each log the error message carries (the saved copy has the whole window). */
const MESSAGE_LINES = 30;

/** libvirtd log lines ("2026-11-26 13:05:01.123+0000: 1234: debug : ...") at or after `since`, plus unstamped continuation lines. */
export function logWindow(text: string, since: Date): string[] {
  const out: string[] = [];
  let inWindow = false;
  for (const line of text.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})\+0000: /.exec(line);
    if (m) inWindow = Date.parse(`${m[1]}T${m[2]}Z`) >= since.getTime() - 1000;
    if (inWindow) out.push(line);
  }
  return out;
}

async function virshSays(host: TestbedHost, args: string[]): Promise<string> {
  return runChecked(['virsh', '-c', host.libvirtUri, ...args], { timeoutMs: 10_000 }).then(
    (r) => r.stdout.trim(),
    (e: unknown) => `(${(e as Error).message.split('\n')[0] ?? 'failed'})`,
  );
}

/** `/proc/<pid>/<file>` as text, or '' when the process is gone or the file unreadable. */
async function procText(pid: number | string, file: string): Promise<string> {
  return readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '');
}

/**
 * The host's processes (libvirtd, its helpers and forks, QEMU) with state and
 * wait channel, the kernel stack of every thread not simply sleeping in a
 * poll or futex, and the POSIX/OFD locks they hold or wait for: what a hung
 * step is waiting on.
 */
async function processReport(h: TestbedHost): Promise<string> {
  const lines: string[] = [];
  const pids = new Set<number>();
  for (const p of await hostProcesses(h).catch(() => [])) {
    pids.add(p.pid);
    const stat = await procText(p.pid, 'stat');
    // pid (comm) state ppid ...: the comm may contain spaces, so split after the closing parenthesis.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const wchan = await procText(p.pid, 'wchan');
    lines.push(`${p.pid} ppid=${after[1] ?? '?'} ${after[0] ?? '?'} ${p.comm} wchan=${wchan || '-'}`);
    const tasks = await readdir(`/proc/${p.pid}/task`).catch(() => [] as string[]);
    for (const tid of tasks) {
      const tw = await procText(`${p.pid}/task/${tid}`, 'wchan');
      if (/^(do_epoll_wait|futex_wait_queue|do_sys_poll|ep_poll|poll_schedule_timeout|hrtimer_nanosleep|do_select|0|)$/.test(tw) || p.comm.startsWith('qemu')) continue;
      const comm = (await procText(`${p.pid}/task/${tid}`, 'comm')).trim();
      const stack = (await procText(`${p.pid}/task/${tid}`, 'stack')).trim().split('\n').slice(0, 8).join(' | ');
      lines.push(`    task ${tid} (${comm}) wchan=${tw} stack: ${stack || '(unreadable)'}`);
    }
  }
  // "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 1 1" ("1: -> ..." for a waiter): ours, and anyone's on the same files.
  const locks = (await readFile('/proc/locks', 'utf8').catch(() => '')).split('\n').map((l) => ({ l, f: l.replace(/^\d+:\s*(->\s*)?/, '').split(/\s+/) }));
  const files = new Set(locks.filter((x) => x.f.length >= 7 && pids.has(Number(x.f[3]))).map((x) => x.f[4]));
  for (const x of locks) if (x.f.length >= 7 && files.has(x.f[4])) lines.push(`lock: ${x.l.trim()}`);
  return lines.join('\n');
}

/**
 * Collects the evidence from every host. With `saveDir`, the whole of each
 * host's libvirtd log window, QEMU log and virtlockd/virtlogd logs are
 * copied there too (the returned text says where).
 */
export async function migrationEvidence(hosts: readonly TestbedHost[], w: MigrationWindow, saveDir?: string): Promise<string> {
  const id = w.id ?? w.name;
  const parts: string[] = [];
  if (saveDir) await mkdir(saveDir, { recursive: true });
  for (const h of hosts) {
    parts.push(`--- ${h.name} domjobinfo:\n${await virshSays(h, ['domjobinfo', id])}`);
    parts.push(`--- ${h.name} domjobinfo --completed:\n${await virshSays(h, ['domjobinfo', '--completed', id])}`);
    parts.push(`--- ${h.name} domstate:\n${await virshSays(h, ['domstate', '--reason', id])}`);
    parts.push(`--- ${h.name} processes:\n${await processReport(h)}`);
    // TCP as the host sees it: queued bytes nobody reads (Recv-Q) or the peer does not take (Send-Q), retransmissions.
    const ss = await hostExec(h, ['ss', '-tnpio'], { check: false, timeoutMs: 10_000 }).then((r) => r.stdout.trim(), (e: unknown) => `(${String(e)})`);
    parts.push(`--- ${h.name} ss -tnpio:\n${ss}`);
    const neigh = await hostExec(h, ['ip', 'neigh'], { check: false, timeoutMs: 10_000 }).then((r) => r.stdout.trim(), (e: unknown) => `(${String(e)})`);
    const links = await hostExec(h, ['ip', '-br', 'link'], { check: false, timeoutMs: 10_000 }).then((r) => r.stdout.trim(), (e: unknown) => `(${String(e)})`);
    parts.push(`--- ${h.name} ip neigh / links:\n${neigh}\n${links}`);
    const logDir = path.join(h.runDir, 'log');
    const qemuLog = await readFile(path.join(logDir, 'qemu', `${w.name}.log`), 'utf8').catch(() => '(no QEMU log)');
    parts.push(`--- ${h.name} QEMU log (end):\n${qemuLog.trimEnd().split('\n').slice(-15).join('\n')}`);
    const libvirtd = logWindow(await readFile(path.join(logDir, 'libvirtd.log'), 'utf8').catch(() => ''), w.since);
    // Warnings and errors tell the story; the debug lines go into the saved copy.
    const notable = libvirtd.filter((l) => / (warning|error) : /.test(l));
    parts.push(`--- ${h.name} libvirtd.log warnings/errors since ${w.since.toISOString()} (${libvirtd.length} lines in the window):\n${notable.slice(-MESSAGE_LINES).join('\n')}`);
    if (saveDir) {
      const dir = path.join(saveDir, h.name);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'libvirtd-window.log'), libvirtd.join('\n'));
      await writeFile(path.join(dir, 'virsh.txt'), parts.filter((p) => p.startsWith(`--- ${h.name} `)).join('\n'));
      for (const f of [path.join('qemu', `${w.name}.log`), 'virtlockd.log', 'virtlogd.log']) {
        await copyFile(path.join(logDir, f), path.join(dir, path.basename(f))).catch(() => undefined);
      }
    }
  }
  // The kernel's word on a bridge seeing its own address come back (two hosts with one MAC), if any.
  const dmesg = await runChecked(['dmesg', '-T'], { timeoutMs: 10_000 }).then((r) => r.stdout, () => '');
  const own = dmesg.split('\n').filter((l) => l.includes('with own address as source address'));
  parts.push(`--- kernel: bridges that saw their own address as a source (${own.length} lines, last 5):\n${own.slice(-5).join('\n')}`);
  if (saveDir) parts.push(`--- full logs saved in ${saveDir}`);
  return parts.join('\n');
}

/**
 * Runs `migration` (the caller's whole wait for it, job polling included);
 * if it rejects, rejects with its message followed by the evidence. The full
 * logs are saved under `$DROVER_TEST_STATE/migration-evidence/` when that
 * variable is set.
 */
export async function withMigrationEvidence<T>(hosts: readonly TestbedHost[], w: Omit<MigrationWindow, 'since'>, migration: () => Promise<T>): Promise<T> {
  const since = new Date();
  try {
    return await migration();
  } catch (error) {
    const base = process.env['DROVER_TEST_STATE'];
    const saveDir = base ? path.join(base, 'migration-evidence', `${since.toISOString().replace(/[:.]/g, '-')}-${w.name}`) : undefined;
    const evidence = await migrationEvidence(hosts, { ...w, since }, saveDir).catch((e: unknown) => `(collecting evidence failed: ${String(e)})`);
    const message = `${(error as Error).message}\n${evidence}`;
    // Keep the original type and stack (jest prints both); only the message grows.
    if (error instanceof Error) {
      error.message = message;
      throw error;
    }
    throw new Error(message);
  }
}
