/**
 * Mount helpers for NFS and PosixFS domains: which file systems the kernel
 * knows (/proc/filesystems), what is mounted where (/proc/self/mountinfo),
 * and `mount`/`umount` through execFile.
 *
 * @packageDocumentation
 */
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import { DriverError } from '../../hypervisor/driver.js';

/** One line of /proc/self/mountinfo, the fields Drover needs. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as `\ooo`. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Parses /proc/self/mountinfo text. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    const mp = fields[4];
    const fsType = fields[sep + 1];
    const source = fields[sep + 2];
    if (sep < 0 || mp === undefined || fsType === undefined || source === undefined) continue;
    out.push({ mountPoint: unescapeMountinfo(mp), fsType, source: unescapeMountinfo(source) });
  }
  return out;
}

/**
 * The mount whose mount point is exactly `dir` (symlinks resolved, as
 * mountinfo lists real paths), the last one if several are stacked, or
 * undefined.
 */
export async function mountAt(dir: string): Promise<MountEntry | undefined> {
  const real = await realpath(dir).catch(() => dir);
  const entries = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
  return entries.filter((e) => e.mountPoint === real).at(-1);
}

/** File system names the running kernel supports (/proc/filesystems, second column). */
export async function kernelFilesystems(): Promise<Set<string>> {
  const text = await readFile('/proc/filesystems', 'utf8');
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim().split(/\s+/).at(-1) ?? '')
      .filter(Boolean),
  );
}

function exec(cmd: string, args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, LC_ALL: 'C' }, timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, _out, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stderr: (stderr || (err?.message ?? '')).trim() });
    });
  });
}

/**
 * Whether the kernel can mount NFS: "nfs" in /proc/filesystems, after one
 * attempt to load the module (the file lists modular file systems only
 * once loaded).
 */
export async function nfsSupported(): Promise<boolean> {
  if ((await kernelFilesystems()).has('nfs')) return true;
  await exec('modprobe', ['-q', 'nfs']);
  return (await kernelFilesystems()).has('nfs');
}

/**
 * `mount -t <type> [-o <options>] <source> <target>`, or with `source`
 * undefined, `mount -t <type> [-o <options>] --target <target>` (the source
 * comes from /etc/fstab).
 *
 * @throws DriverError `Unavailable` with mount's message when it fails.
 */
export async function mount(type: string, source: string | undefined, target: string, options?: string): Promise<void> {
  const args = ['-t', type, ...(options ? ['-o', options] : [])];
  if (source === undefined) args.push('--target', target);
  else args.push('--source', source, '--target', target);
  const r = await exec('mount', args);
  if (r.code !== 0) throw new DriverError('Unavailable', `mount -t ${type} ${source ?? '(fstab)'} ${target} failed: ${r.stderr}`);
}

/** `umount <target>`. @throws DriverError `Conflict` when it fails (typically: busy). */
export async function umount(target: string): Promise<void> {
  const r = await exec('umount', [target]);
  if (r.code !== 0) throw new DriverError('Conflict', `umount ${target} failed: ${r.stderr}`);
}
