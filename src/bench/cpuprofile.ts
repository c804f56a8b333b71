/**
 * Summaries of a V8 CPU profile (what `node --cpu-prof` writes): self time
 * per function and per module, so profile findings can be written down as
 * figures. `node dist/bench/cpuprofile.js <file.cpuprofile> [top]` prints them.
 */
import { readFile } from 'node:fs/promises';

/** The parts of a .cpuprofile this reads. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One row of a summary. */
export interface SelfTime {
  name: string;
  /** Self time, ms. */
  ms: number;
  /** Share of the busy (non-idle) time, percent. */
  share: number;
}

/** Self time by function and by module, and where the samples went overall. */
export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  /** Non-idle time, ms. */
  busyMs: number;
  functions: SelfTime[];
  modules: SelfTime[];
}

/** Where a script belongs: a package under node_modules, a file of ours under src/ or dist/, node's own, or the VM. */
export function moduleOf(url: string): string {
  if (!url) return '(native/VM)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url;
  const ours = /\/(?:dist|src)\/(.+?)(?:\.js|\.ts)?$/.exec(url);
  if (ours) return ours[1]!;
  return url.replace(/^file:\/\//, '');
}

/**
 * Self time per sample: each sample's time is the delta to the next one
 * (the last sample gets the profile's end), attributed to the sampled node.
 * Falls back to hitCount × mean interval when a profile has no samples.
 */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0) {
    let t = profile.startTime;
    const times = deltas.map((d) => (t += d));
    for (let i = 0; i < samples.length; i++) {
      const next = i + 1 < times.length ? times[i + 1]! : profile.endTime;
      const dt = Math.max(0, next - times[i]!) / 1000;
      self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
    }
  } else {
    const hits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    const per = hits ? (profile.endTime - profile.startTime) / 1000 / hits : 0;
    for (const n of profile.nodes) if (n.hitCount) self.set(n.id, n.hitCount * per);
  }
  return self;
}

/** Summarizes a profile: top `top` functions and modules by self time. */
export function summarizeProfile(profile: CpuProfile, top = 20): ProfileSummary {
  const self = selfTimes(profile);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0) continue;
    total += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    if (functionName === '(garbage collector)') gc += ms;
    const mod = moduleOf(url);
    const fn = `${functionName || '(anonymous)'} ${url ? `${mod}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    const group = functionName.startsWith('(') && !url ? functionName : mod;
    byModule.set(group, (byModule.get(group) ?? 0) + ms);
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: total - idle > 0 ? Math.round((ms / (total - idle)) * 1000) / 10 : 0 }));
  return { totalMs: Math.round(total), idleMs: Math.round(idle), gcMs: Math.round(gc), busyMs: Math.round(total - idle), functions: rows(byFunction), modules: rows(byModule) };
}

/** Reads and summarizes a .cpuprofile file. */
export async function summarizeProfileFile(file: string, top = 20): Promise<ProfileSummary> {
  return summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, top);
}

if (process.argv[1]?.endsWith('cpuprofile.js') && process.argv[2]) {
  const s = await summarizeProfileFile(process.argv[2], Number(process.argv[3] ?? 25));
  console.log(`total ${s.totalMs} ms, idle ${s.idleMs} ms, busy ${s.busyMs} ms, GC ${s.gcMs} ms`);
  console.log('\nself time by module:');
  for (const r of s.modules) console.log(`${String(r.ms).padStart(8)} ms ${String(r.share).padStart(5)} %  ${r.name}`);
  console.log('\nself time by function:');
  for (const r of s.functions) console.log(`${String(r.ms).padStart(8)} ms ${String(r.share).padStart(5)} %  ${r.name}`);
}
