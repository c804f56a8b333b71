import { KeyedSemaphore } from '../../../src/runtime/keyed-semaphore.js';

/** A promise with its resolve function exposed. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedSemaphore', () => {
  it('lets at most `limit` calls per key run at once, the rest in arrival order', async () => {
    const sem = new KeyedSemaphore(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) => sem.run('h1', async () => { started.push(i); await g.promise; return i; }));
    await tick();
    expect(started).toEqual([0, 1]);
    expect(sem.usage('h1')).toEqual({ active: 2, waiting: 2 });
    gates[1]!.open();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.open();
    gates[3]!.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(sem.usage('h1')).toEqual({ active: 0, waiting: 0 });
  });

  it('keeps keys independent', async () => {
    const sem = new KeyedSemaphore(1);
    const g = gate();
    const started: string[] = [];
    const a = sem.run('a', async () => { started.push('a'); await g.promise; });
    const b = sem.run('b', async () => { started.push('b'); });
    await tick();
    expect(started).toEqual(['a', 'b']);
    g.open();
    await Promise.all([a, b]);
  });

  it('releases the slot when the call fails', async () => {
    const sem = new KeyedSemaphore(1);
    await expect(sem.run('h', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(sem.usage('h')).toEqual({ active: 0, waiting: 0 });
    await expect(sem.run('h', async () => 7)).resolves.toBe(7);
  });

  it('refuses a limit below one', () => {
    expect(() => new KeyedSemaphore(0)).toThrow(RangeError);
    expect(() => new KeyedSemaphore(1.5)).toThrow(RangeError);
  });
});
