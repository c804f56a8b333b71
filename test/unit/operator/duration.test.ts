import { describe, expect, it } from '@jest/globals';
import { parseDuration } from '../../../src/cli/duration.js';

describe('parseDuration', () => {
  it.each([
    ['15s', 15_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['10', 10_000],
    ['0', 0],
    ['1.5s', 1500],
    ['0.5', 500],
    [' 3s ', 3000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['abc', '-1s', '', 's', '5d', '1.s', '1 s', '1s2'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(`invalid duration "${text}"`);
  });
});
