/** CachedListDriver: list() from memory until an event, a change through it, or the maximum age. */
import { describe, expect, it } from '@jest/globals';
import { CachedListDriver } from '../../../src/hypervisor/cached-list.js';
import type { DomainEvent, DomainInfo, HypervisorDriver } from '../../../src/hypervisor/driver.js';

/** An inner driver counting list() calls, with controllable domains and events. */
function fakeInner() {
  const state = { lists: 0, names: 0, domains: [{ uuid: 'a', name: 'a', state: 'running', persistent: true, xml: '<domain/>' }] as DomainInfo[] };
  const pending: DomainEvent[] = [];
  let wake: (() => void) | undefined;
  const inner = {
    async list() {
      state.lists += 1;
      return state.domains.map((d) => ({ ...d }));
    },
    async names() {
      state.names += 1;
      return state.domains.map((d) => ({ uuid: d.uuid, name: d.name }));
    },
    async get(uuid: string) {
      return state.domains.find((d) => d.uuid === uuid);
    },
    async start(uuid: string) {
      const d = state.domains.find((x) => x.uuid === uuid);
      if (d) d.state = 'running';
    },
    async destroy(uuid: string) {
      const d = state.domains.find((x) => x.uuid === uuid);
      if (d) d.state = 'shut off';
    },
    async *events(signal: AbortSignal) {
      while (!signal.aborted) {
        const next = pending.shift();
        if (next) yield next;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  } as unknown as HypervisorDriver;
  const emit = (event: DomainEvent) => {
    pending.push(event);
    wake?.();
  };
  return { inner, state, emit };
}

describe('CachedListDriver', () => {
  it('serves repeated lists from memory', async () => {
    const { inner, state } = fakeInner();
    const driver = new CachedListDriver(inner);
    expect(await driver.list()).toHaveLength(1);
    await driver.list();
    await driver.list();
    expect(state.lists).toBe(1);
  });

  it('lists again after a change made through it, and sees the change', async () => {
    const { inner, state } = fakeInner();
    const driver = new CachedListDriver(inner);
    await driver.list();
    await driver.destroy('a');
    expect((await driver.list())[0]!.state).toBe('shut off');
    expect(state.lists).toBe(2);
  });

  it('lists again after a hypervisor event (a change made by someone else)', async () => {
    const { inner, state, emit } = fakeInner();
    const driver = new CachedListDriver(inner);
    const controller = new AbortController();
    const iterator = driver.events(controller.signal)[Symbol.asyncIterator]();
    await driver.list();
    state.domains[0]!.state = 'shut off';
    expect((await driver.list())[0]!.state).toBe('running'); // not yet told
    emit({ uuid: 'a', name: 'a', event: 'stopped', detail: 'failed', time: new Date().toISOString() });
    await iterator.next();
    expect((await driver.list())[0]!.state).toBe('shut off');
    controller.abort();
  });

  it('expires a cached list after maxAgeMs', async () => {
    const { inner, state } = fakeInner();
    let now = 0;
    const driver = new CachedListDriver(inner, { maxAgeMs: 1000, now: () => now });
    await driver.list();
    now = 999;
    await driver.list();
    expect(state.lists).toBe(1);
    now = 1001;
    await driver.list();
    expect(state.lists).toBe(2);
  });

  it('answers names() from a fresh cached list, else from the inner driver (never a full list)', async () => {
    const { inner, state } = fakeInner();
    let now = 0;
    const driver = new CachedListDriver(inner, { maxAgeMs: 1000, now: () => now });
    expect(await driver.names()).toEqual([{ uuid: 'a', name: 'a' }]);
    expect(state).toMatchObject({ lists: 0, names: 1 });
    await driver.list();
    state.domains.push({ uuid: 'b', name: 'b', state: 'shut off', persistent: true, xml: '<domain/>' });
    expect(await driver.names()).toEqual([{ uuid: 'a', name: 'a' }]); // the cached list's view
    expect(state).toMatchObject({ lists: 1, names: 1 });
    await driver.start('b'); // a change through it drops the cache
    expect(await driver.names()).toEqual([{ uuid: 'a', name: 'a' }, { uuid: 'b', name: 'b' }]);
    await driver.list();
    now = 1001;
    expect(await driver.names()).toHaveLength(2);
    expect(state).toMatchObject({ lists: 2, names: 3 });
  });

  it('returns copies: callers cannot change the cache', async () => {
    const { inner } = fakeInner();
    const driver = new CachedListDriver(inner);
    (await driver.list())[0]!.state = 'crashed';
    expect((await driver.list())[0]!.state).toBe('running');
  });
});
