import { describe, expect, it } from '@jest/globals';
import { formatBytes, isQuantity, parseQuantity } from '../../../src/api/quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1000', 1000],
    ['1k', 1000],
    ['2G', 2_000_000_000],
    ['16Mi', 16 * 2 ** 20],
    ['1Ki', 1024],
    ['.5Ki', 512],
    ['0', 0],
  ])('%s is %d', (input, bytes) => {
    expect(parseQuantity(input)).toBe(bytes);
  });

  it('takes plain integers as they are', () => {
    expect(parseQuantity(1000)).toBe(1000);
    expect(parseQuantity(0)).toBe(0);
  });

  it('rounds fractional byte counts up, as Kubernetes does', () => {
    expect(parseQuantity('0.5')).toBe(1);
    expect(parseQuantity('1.0001k')).toBe(1001);
  });

  it.each(['-1Gi', '12 GB', 'abc', '', '1GB', '1gi', '1e3', '+1Gi', 'Gi', '1 Gi'])('rejects %j', (input) => {
    expect(() => parseQuantity(input)).toThrow(/invalid quantity/);
  });

  it('rejects negative and fractional numbers', () => {
    expect(() => parseQuantity(-1)).toThrow(/invalid quantity/);
    expect(() => parseQuantity(1.5)).toThrow(/invalid quantity/);
  });
});

describe('isQuantity', () => {
  it('accepts non-negative integers and quantity strings only', () => {
    expect(isQuantity('512Mi')).toBe(true);
    expect(isQuantity(4096)).toBe(true);
    expect(isQuantity('-1Gi')).toBe(false);
    expect(isQuantity('12 GB')).toBe(false);
    expect(isQuantity(-1)).toBe(false);
    expect(isQuantity(0.5)).toBe(false);
    expect(isQuantity(null)).toBe(false);
    expect(isQuantity({ value: '1Gi' })).toBe(false);
  });
});

describe('formatBytes', () => {
  it('uses the largest exact binary unit', () => {
    expect(formatBytes(2 ** 30)).toBe('1Gi');
    expect(formatBytes(1536 * 2 ** 20)).toBe('1536Mi');
    expect(formatBytes(1000)).toBe('1000');
    expect(formatBytes(0)).toBe('0');
  });

  it('round-trips through parseQuantity', () => {
    for (const q of ['512Mi', '1Gi', '3Ti', '1Ki', '1000']) expect(formatBytes(parseQuantity(q))).toBe(q);
  });
});
