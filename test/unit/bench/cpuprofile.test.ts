/** Self time by function and module from a V8 CPU profile. */
import { describe, expect, it } from '@jest/globals';
import { moduleOf, summarizeProfile, type CpuProfile } from '../../../src/bench/cpuprofile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

describe('moduleOf', () => {
  it('names packages, our files and node internals', () => {
    expect(moduleOf('file:///repo/node_modules/undici/lib/core.js')).toBe('undici');
    expect(moduleOf('file:///repo/node_modules/@kubernetes/client-node/dist/gen/x.js')).toBe('@kubernetes/client-node');
    expect(moduleOf('file:///repo/dist/operator/status.js')).toBe('operator/status');
    expect(moduleOf('node:internal/tls/wrap')).toBe('node:internal/tls/wrap');
    expect(moduleOf('')).toBe('(native/VM)');
  });
});

describe('summarizeProfile', () => {
  it('attributes each sample the time to the next one, leaves idle out of the shares, and ranks', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5] },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('clean', 'file:///r/dist/operator/status.js', 10) },
        { id: 4, callFrame: frame('parse', 'file:///r/node_modules/zod/index.js', 0) },
        { id: 5, callFrame: frame('(garbage collector)') },
      ],
      startTime: 0,
      // Samples at 0, 1000, 2000, 3000, 4000 µs; the profile ends at 5000 µs.
      endTime: 5000,
      samples: [2, 3, 3, 4, 5],
      timeDeltas: [0, 1000, 1000, 1000, 1000],
    };
    const s = summarizeProfile(profile);
    expect(s).toMatchObject({ totalMs: 5, idleMs: 1, busyMs: 4, gcMs: 1 });
    expect(s.functions[0]).toEqual({ name: 'clean operator/status:11', ms: 2, share: 50 });
    expect(s.modules.map((m) => m.name)).toEqual(['operator/status', 'zod', '(garbage collector)']);
    expect(s.modules.map((m) => m.share)).toEqual([50, 25, 25]);
  });

  it('falls back to hit counts when there are no samples', () => {
    const s = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame('a', 'file:///r/dist/x.js'), hitCount: 3 },
        { id: 2, callFrame: frame('b', 'file:///r/dist/y.js'), hitCount: 1 },
      ],
      startTime: 0,
      endTime: 4000,
    });
    expect(s.functions.map((f) => [f.name, f.ms])).toEqual([
      ['a x:1', 3],
      ['b y:1', 1],
    ]);
  });
});
