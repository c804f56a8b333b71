/** Name → UUID resolution for event lines. */
import { DomainNameCache } from '../../../src/hypervisor/libvirt/name-cache.js';

describe('DomainNameCache', () => {
  function fake(tables: Map<string, string>[]): { cache: DomainNameCache; loads: () => number } {
    let n = 0;
    const cache = new DomainNameCache(async () => tables[Math.min(n++, tables.length - 1)] ?? new Map());
    return { cache, loads: () => n };
  }

  it('answers known names from memory and loads for unknown ones', async () => {
    const { cache, loads } = fake([new Map([['b', 'uuid-b']])]);
    cache.remember('a', 'uuid-a');
    expect(await cache.resolve('a', 'started')).toBe('uuid-a');
    expect(loads()).toBe(0);
    expect(await cache.resolve('b', 'started')).toBe('uuid-b');
    expect(loads()).toBe(1);
    expect(await cache.resolve('nope', 'started')).toBeUndefined();
  });

  it('reloads on "defined" (a name can come back with a new UUID) and forgets on "undefined"', async () => {
    const { cache } = fake([new Map([['a', 'uuid-new']])]);
    cache.remember('a', 'uuid-old');
    expect(await cache.resolve('a', 'stopped')).toBe('uuid-old');
    expect(await cache.resolve('a', 'defined')).toBe('uuid-new');
    expect(await cache.resolve('a', 'undefined')).toBe('uuid-new');
  });

  it('keeps vanished domains after a reload, so their last events still resolve', async () => {
    const { cache } = fake([new Map()]);
    cache.remember('gone', 'uuid-gone');
    await cache.refresh();
    expect(await cache.resolve('gone', 'stopped')).toBe('uuid-gone');
  });

  it('shares one load between concurrent callers and survives a failing load', async () => {
    let calls = 0;
    const cache = new DomainNameCache(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      if (calls > 1) throw new Error('libvirtd gone');
      return new Map([['x', 'uuid-x']]);
    });
    const [a, b] = await Promise.all([cache.resolve('x', 'started'), cache.resolve('x', 'started')]);
    expect([a, b, calls]).toEqual(['uuid-x', 'uuid-x', 1]);
    expect(await cache.resolve('y', 'started')).toBeUndefined();
  });
});
