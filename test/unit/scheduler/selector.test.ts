import { describe, expect, it } from '@jest/globals';
import { matchesSelector } from '../../../src/scheduler/selector.js';

const labels = { zone: 'a', tier: 'gold', gpu: '' };

describe('matchesSelector', () => {
  it('matches everything with an absent or empty selector, including absent labels', () => {
    expect(matchesSelector(undefined, labels)).toBe(true);
    expect(matchesSelector({}, labels)).toBe(true);
    expect(matchesSelector({ matchLabels: {}, matchExpressions: [] }, undefined)).toBe(true);
  });

  it('requires every matchLabels pair', () => {
    expect(matchesSelector({ matchLabels: { zone: 'a' } }, labels)).toBe(true);
    expect(matchesSelector({ matchLabels: { zone: 'a', tier: 'gold' } }, labels)).toBe(true);
    expect(matchesSelector({ matchLabels: { zone: 'a', tier: 'silver' } }, labels)).toBe(false);
    expect(matchesSelector({ matchLabels: { region: 'eu' } }, labels)).toBe(false);
    expect(matchesSelector({ matchLabels: { zone: 'a' } }, undefined)).toBe(false);
  });

  it('In: the key must exist with one of the values', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b', 'c'] }] }, labels)).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'region', operator: 'In', values: ['a'] }] }, labels)).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'In' }] }, labels)).toBe(false);
  });

  it('NotIn: an absent key passes, a listed value fails', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'region', operator: 'NotIn', values: ['a'] }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a', 'b'] }] }, labels)).toBe(false);
  });

  it('Exists and DoesNotExist look at the key only (an empty value still exists)', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'ssd', operator: 'Exists' }] }, labels)).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'ssd', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, labels)).toBe(false);
  });

  it('does not treat inherited Object properties as labels', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, labels)).toBe(false);
    expect(matchesSelector({ matchExpressions: [{ key: 'constructor', operator: 'DoesNotExist' }] }, labels)).toBe(true);
  });

  it('ANDs matchLabels and every expression', () => {
    const selector = {
      matchLabels: { zone: 'a' },
      matchExpressions: [
        { key: 'tier', operator: 'In' as const, values: ['gold'] },
        { key: 'ssd', operator: 'DoesNotExist' as const },
      ],
    };
    expect(matchesSelector(selector, labels)).toBe(true);
    expect(matchesSelector(selector, { ...labels, ssd: 'yes' })).toBe(false);
    expect(matchesSelector(selector, { ...labels, zone: 'b' })).toBe(false);
    expect(matchesSelector(selector, { ...labels, tier: 'bronze' })).toBe(false);
  });
});
