/**
 * Host statistics from /proc, through a reader that tests replace. CPU use
 * needs two samples of /proc/stat; the sampler keeps the previous one, and
 * takes a second one a moment after the first when it has none yet.
 */
import { readFile } from 'node:fs/promises';

/** The /proc files the sampler reads. */
export type ProcFile = 'stat' | 'meminfo' | 'loadavg';

/** Reads one /proc file. */
export type ProcReader = (file: ProcFile) => Promise<string>;

/** Reads the real /proc. */
export const readProc: ProcReader = (file) => readFile(`/proc/${file}`, 'utf8');

/** CPU time counters: busy and total jiffies. */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * The aggregate `cpu` line of /proc/stat. Columns: user nice system idle
 * iowait irq softirq steal guest guest_nice; guest time is already counted
 * in user, so only the first eight add up to the total. Idle and iowait
 * are not busy.
 */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (line === undefined) throw new Error('/proc/stat has no aggregate cpu line');
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (v.length < 4 || v.some((n) => !Number.isFinite(n))) throw new Error('/proc/stat cpu line is unreadable');
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Busy share between two samples, 0–100. */
export function cpuUsagePercent(prev: CpuTimes, next: CpuTimes): number {
  const dTotal = next.total - prev.total;
  if (dTotal <= 0) return 0;
  const pct = (100 * (next.busy - prev.busy)) / dTotal;
  return Math.min(100, Math.max(0, Math.round(pct * 10) / 10));
}

/** MemTotal, MemFree, MemAvailable in bytes (/proc/meminfo counts kB = KiB). */
export function parseMeminfo(text: string): { totalBytes: number; freeBytes: number; availableBytes: number } {
  const kib = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  };
  const total = kib('MemTotal');
  const free = kib('MemFree');
  if (total === undefined || free === undefined) throw new Error('/proc/meminfo has no MemTotal/MemFree');
  // Kernels before 3.14 have no MemAvailable; free memory is the honest lower bound then.
  return { totalBytes: total, freeBytes: free, availableBytes: kib('MemAvailable') ?? free };
}

/** The 1, 5 and 15 minute load averages. */
export function parseLoadavg(text: string): { one: number; five: number; fifteen: number } {
  const [one, five, fifteen] = text.trim().split(/\s+/).map(Number);
  if (![one, five, fifteen].every((n) => n !== undefined && Number.isFinite(n))) throw new Error('/proc/loadavg is unreadable');
  return { one: one as number, five: five as number, fifteen: fifteen as number };
}

/** One sample of host statistics (without the VM count, which the driver knows). */
export interface ProcSample {
  cpuUsagePercent: number;
  memory: { totalBytes: number; freeBytes: number; availableBytes: number };
  loadAverage: { one: number; five: number; fifteen: number };
}

/** Samples /proc; CPU use is measured since the previous sample. */
export class HostStatsSampler {
  private previous: CpuTimes | undefined;

  constructor(
    private readonly reader: ProcReader = readProc,
    /** Gap between the two /proc/stat reads of the very first sample. */
    private readonly firstGapMs = 100,
  ) {}

  /** Takes a sample. */
  async sample(): Promise<ProcSample> {
    let prev = this.previous;
    if (prev === undefined) {
      prev = parseProcStat(await this.reader('stat'));
      await new Promise((r) => setTimeout(r, this.firstGapMs));
    }
    const [stat, meminfo, loadavg] = await Promise.all([this.reader('stat'), this.reader('meminfo'), this.reader('loadavg')]);
    const now = parseProcStat(stat);
    this.previous = now;
    return { cpuUsagePercent: cpuUsagePercent(prev, now), memory: parseMeminfo(meminfo), loadAverage: parseLoadavg(loadavg) };
  }
}
