/** Reading a process's memory and CPU time from /proc, for benchmarks. */
import { readFileSync } from 'node:fs';

/** Resident set size in bytes, or 0 when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds used so far. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // Fields 14 and 15 (utime, stime) counted from the state field at index 0 → 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Samples RSS every `intervalMs` and keeps the peak until stopped. */
export function peakSampler(pid: number, intervalMs = 100): { stop(): number; peak(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
    peak: () => peak,
  };
}

/** p-th percentile (0..100) of `values`, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
