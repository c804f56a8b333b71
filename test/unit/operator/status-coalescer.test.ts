import { describe, expect, it } from '@jest/globals';
import { sameBut, StatusCoalescer } from '../../../src/controllers/coalesce.js';
import { hostViews } from '../../../src/controllers/vm/placement.js';
import type { KubeObject } from '../../../src/kube/types.js';

const MINOR = ['lastHeartbeatTime', 'usage'] as const;

describe('StatusCoalescer', () => {
  it('holds back a change of only the minor fields within the interval, and says how long', () => {
    const c = new StatusCoalescer();
    const before = { phase: 'Up', lastHeartbeatTime: 't1', usage: { runningVMs: 1 } };
    const after = { phase: 'Up', lastHeartbeatTime: 't2', usage: { runningVMs: 2 } };
    expect(c.holdBack('h', before, after, MINOR, 5_000, 1_000)).toBe(0);
    c.wrote('h', 1_000);
    expect(c.holdBack('h', before, after, MINOR, 5_000, 2_000)).toBe(4_000);
    expect(c.holdBack('h', before, after, MINOR, 5_000, 6_000)).toBe(0);
  });

  it('writes any other change at once', () => {
    const c = new StatusCoalescer();
    c.wrote('h', 1_000);
    const before = { phase: 'Up', lastHeartbeatTime: 't1' };
    expect(c.holdBack('h', before, { phase: 'NonResponsive', lastHeartbeatTime: 't1' }, MINOR, 5_000, 1_500)).toBe(0);
    c.forget('h');
    expect(c.holdBack('h', before, { phase: 'Up', lastHeartbeatTime: 't2' }, MINOR, 5_000, 1_500)).toBe(0);
  });

  it('compares the rest order-insensitively, undefined members as absent', () => {
    expect(sameBut({ a: 1, b: { x: 1, y: 2 }, usage: 1 }, { b: { y: 2, x: 1 }, a: 1, c: undefined, usage: 2 }, MINOR)).toBe(true);
    expect(sameBut({ a: 1 }, { a: 2 }, MINOR)).toBe(false);
  });
});

describe('hostViews (one pass over the VMs)', () => {
  const host = (name: string): KubeObject => ({ metadata: { name, namespace: 'ns' }, status: { phase: 'Up', capabilities: { memoryBytes: 8 * 2 ** 30, cpu: { sockets: 1, cores: 4, threads: 1 } } } });
  const vm = (uid: string, status: Record<string, unknown> | undefined, memory = '1Gi', cores = 1): KubeObject => ({ metadata: { name: uid, namespace: 'ns', uid }, spec: { memory, cpu: { cores } }, status });

  it('counts a VM where it runs, where this process placed it, and on its migration target', () => {
    const views = hostViews(
      [host('a'), host('b'), host('c')],
      [
        vm('1', { host: 'a', phase: 'Running' }),
        vm('2', { host: 'a', phase: 'Stopped' }),
        vm('3', undefined, '2Gi', 2),
        vm('4', { host: 'a', phase: 'Migrating', migration: { targetHost: 'b' } }),
        vm('5', { host: 'c', phase: 'Pending' }),
      ],
      new Map([['3', 'c']]),
    );
    const by = Object.fromEntries(views.map((v) => [v.name, [v.committedMemoryBytes / 2 ** 30, v.committedVcpus]]));
    expect(by).toEqual({ a: [2, 2], b: [1, 1], c: [2, 2] });
  });
});
