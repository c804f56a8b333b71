import { describe, expect, it } from '@jest/globals';
import type { Condition } from '../../../src/api/common.js';
import { condition } from '../../../src/api/common.js';
import { findCondition, setCondition } from '../../../src/api/conditions.js';

const T0 = new Date('2026-01-01T10:00:00.123Z');
const T1 = new Date('2026-01-01T10:05:00.456Z');

describe('setCondition', () => {
  it('adds a new condition with the time in RFC 3339 seconds (as metav1.Time)', () => {
    const list = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending', message: 'starting' }, T0);
    expect(list).toEqual([
      { type: 'Ready', status: 'False', lastTransitionTime: '2026-01-01T10:00:00Z', reason: 'Pending', message: 'starting' },
    ]);
    // What it writes is a valid condition for the status schema.
    expect(condition.safeParse(list[0]).success).toBe(true);
  });

  it('keeps lastTransitionTime when the status is unchanged, updating reason and message', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending', message: 'starting' }, T0);
    const second = setCondition(first, { type: 'Ready', status: 'False', reason: 'NoHostAvailable', message: 'no host', observedGeneration: 3 }, T1);
    expect(second).toHaveLength(1);
    expect(second[0]).toEqual({
      type: 'Ready',
      status: 'False',
      observedGeneration: 3,
      lastTransitionTime: '2026-01-01T10:00:00Z',
      reason: 'NoHostAvailable',
      message: 'no host',
    });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending', message: '' }, T0);
    const second = setCondition(first, { type: 'Ready', status: 'True', reason: 'AsExpected', message: '' }, T1);
    expect(second[0]?.lastTransitionTime).toBe('2026-01-01T10:05:00Z');
    expect(second[0]?.status).toBe('True');
    const third = setCondition(second, { type: 'Ready', status: 'Unknown', reason: 'Pending', message: '' }, T0);
    expect(third[0]?.lastTransitionTime).toBe('2026-01-01T10:00:00Z');
  });

  it('touches only the condition of the same type, keeps order, and does not mutate the input', () => {
    const base: Condition[] = [
      { type: 'Ready', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z', reason: 'AsExpected', message: '' },
      { type: 'Scheduled', status: 'True', lastTransitionTime: '2025-01-02T00:00:00Z', reason: 'AsExpected', message: '' },
    ];
    const snapshot = structuredClone(base);
    const next = setCondition(base, { type: 'Ready', status: 'False', reason: 'NoHostAvailable', message: 'x' }, T1);
    expect(base).toEqual(snapshot);
    expect(next.map((c) => c.type)).toEqual(['Ready', 'Scheduled']);
    expect(next[1]).toBe(base[1]);
    expect(next[0]?.lastTransitionTime).toBe('2026-01-01T10:05:00Z');
    const added = setCondition(base, { type: 'Drained', status: 'False', reason: 'Pending', message: '' }, T1);
    expect(added.map((c) => c.type)).toEqual(['Ready', 'Scheduled', 'Drained']);
  });

  it('findCondition finds by type', () => {
    const list = setCondition([], { type: 'Connected', status: 'True', reason: 'AsExpected', message: '' }, T0);
    expect(findCondition(list, 'Connected')?.status).toBe('True');
    expect(findCondition(list, 'Ready')).toBeUndefined();
    expect(findCondition(undefined, 'Ready')).toBeUndefined();
  });
});
