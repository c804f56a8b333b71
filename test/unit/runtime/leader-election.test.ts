import { afterEach, describe, expect, it } from '@jest/globals';
import { ConflictError, isConflictError } from '../../../src/runtime/errors.js';
import {
  LeaderElector,
  type LeaderElectorOptions,
  type LeaseRecord,
  type LeaseStore,
} from '../../../src/runtime/leader-election.js';
import { InMemoryLeaseStore } from '../../../src/runtime/memory-lease-store.js';

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const FAST = { leaseDurationMs: 300, renewDeadlineMs: 200, retryPeriodMs: 40 };

const electors: LeaderElector[] = [];
function candidate(identity: string, store: LeaseStore, extra: Partial<LeaderElectorOptions> = {}): LeaderElector {
  const e = new LeaderElector({ identity, store, ...FAST, ...extra });
  electors.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
});

/** Wraps a store: can be made to fail, counts conflicts. */
class FaultyStore implements LeaseStore {
  failing = false;
  conflicts = 0;
  constructor(private readonly inner: LeaseStore) {}
  private async guard<T>(op: () => Promise<T>): Promise<T> {
    if (this.failing) throw new Error('apiserver unreachable');
    try {
      return await op();
    } catch (err) {
      if (isConflictError(err)) this.conflicts++;
      throw err;
    }
  }
  get(): Promise<LeaseRecord | undefined> {
    return this.guard(() => this.inner.get());
  }
  create(record: LeaseRecord): Promise<void> {
    return this.guard(() => this.inner.create(record));
  }
  update(record: LeaseRecord, rv: string | undefined): Promise<void> {
    return this.guard(() => this.inner.update(record, rv));
  }
}

/** Holds the first `parties` reads until all have arrived, so every candidate reads the same version. */
class BarrierStore extends FaultyStore {
  private arrived = 0;
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  constructor(inner: LeaseStore, private readonly parties: number) {
    super(inner);
  }
  override async get(): Promise<LeaseRecord | undefined> {
    if (this.arrived < this.parties) {
      const record = await super.get();
      if (++this.arrived === this.parties) this.open();
      await this.gate;
      return record;
    }
    return super.get();
  }
}

describe('LeaderElector', () => {
  it('elects exactly one leader among two candidates sharing a lease', async () => {
    const store = new InMemoryLeaseStore();
    const started: string[] = [];
    const a = candidate('a', store, { callbacks: { onStartedLeading: () => void started.push('a') } });
    const b = candidate('b', store, { callbacks: { onStartedLeading: () => void started.push('b') } });
    a.start();
    b.start();
    await waitFor(() => a.isLeader() || b.isLeader());
    await pause(200); // several retry periods: the follower must stay a follower
    const leaders = [a, b].filter((e) => e.isLeader());
    expect(leaders).toHaveLength(1);
    expect(started).toEqual([leaders[0]?.identity]);
    expect(store.current()?.holderIdentity).toBe(leaders[0]?.identity);
    const follower = leaders[0] === a ? b : a;
    expect(follower.leader()).toBe(leaders[0]?.identity);
  });

  it('lets another candidate take over only after the lease expires when the leader stops renewing', async () => {
    const store = new InMemoryLeaseStore();
    const opts = { leaseDurationMs: 600, renewDeadlineMs: 300, retryPeriodMs: 40 };
    let aStopped = 0;
    const a = candidate('a', store, { ...opts, callbacks: { onStoppedLeading: () => aStopped++ } });
    const b = candidate('b', store, opts);
    a.start();
    await waitFor(() => a.isLeader());
    b.start();
    await waitFor(() => b.leader() === 'a');
    await a.stop({ release: false }); // like a crash: the lease still names a
    expect(a.isLeader()).toBe(false);
    expect(aStopped).toBe(1);
    expect(store.current()?.holderIdentity).toBe('a');
    await pause(150); // well within the 600 ms lease: b must still wait
    expect(b.isLeader()).toBe(false);
    await waitFor(() => b.isLeader(), 5000);
    expect(store.current()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('release() hands over at once, after the leader-only work finished', async () => {
    const store = new InMemoryLeaseStore();
    const opts = { leaseDurationMs: 10_000, renewDeadlineMs: 5000, retryPeriodMs: 40 };
    let holderWhenWorkStopped: string | undefined;
    const status: boolean[] = [];
    const a = candidate('a', store, {
      ...opts,
      metrics: { leading: (v) => status.push(v) },
      callbacks: {
        onStartedLeading: (signal) =>
          new Promise<void>((resolve) =>
            signal.addEventListener('abort', () => {
              holderWhenWorkStopped = store.current()?.holderIdentity;
              resolve();
            }),
          ),
      },
    });
    const b = candidate('b', store, opts);
    a.start();
    await waitFor(() => a.isLeader());
    b.start();
    await waitFor(() => b.leader() === 'a');
    expect(await a.release()).toBe(true);
    expect(holderWhenWorkStopped).toBe('a');
    expect(a.isLeader()).toBe(false);
    expect(status).toEqual([false, true, false]);
    // The lease would last 10 s; b leads long before that because it was released.
    await waitFor(() => b.isLeader(), 2000);
    expect(store.current()).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 10, leaseTransitions: 1 });
  });

  it('stops leading when renewals fail for the renew deadline', async () => {
    const shared = new InMemoryLeaseStore();
    const aStore = new FaultyStore(shared);
    let leadershipSignal: AbortSignal | undefined;
    let aStopped = 0;
    const a = candidate('a', aStore, {
      callbacks: { onStartedLeading: (s) => void (leadershipSignal = s), onStoppedLeading: () => aStopped++ },
    });
    const b = candidate('b', shared);
    a.start();
    await waitFor(() => a.isLeader());
    b.start();
    aStore.failing = true;
    await waitFor(() => aStopped === 1);
    expect(a.isLeader()).toBe(false);
    expect(leadershipSignal?.aborted).toBe(true);
    await a.done;
    await waitFor(() => b.isLeader());
    expect(shared.current()?.holderIdentity).toBe('b');
  });

  it.each([
    ['an empty store (create race)', undefined],
    ['a released lease (update race)', { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 }],
  ])('handles a conflict when two candidates write %s at once', async (_label, initial) => {
    const store = new BarrierStore(new InMemoryLeaseStore(initial), 2);
    const a = candidate('a', store);
    const b = candidate('b', store);
    a.start();
    b.start();
    await waitFor(() => a.isLeader() || b.isLeader());
    expect(store.conflicts).toBe(1);
    await pause(120);
    const leaders = [a, b].filter((e) => e.isLeader());
    expect(leaders).toHaveLength(1);
    const record = await store.get();
    expect(record?.holderIdentity).toBe(leaders[0]?.identity);
    expect(record?.leaseTransitions).toBe(initial ? 4 : 0);
  });

  it('rejects durations that would let two leaders overlap', () => {
    const store = new InMemoryLeaseStore();
    expect(() => new LeaderElector({ identity: 'x', store, leaseDurationMs: 10, renewDeadlineMs: 10 })).toThrow(/leaseDuration/);
    expect(
      () => new LeaderElector({ identity: 'x', store, leaseDurationMs: 100, renewDeadlineMs: 50, retryPeriodMs: 45 }),
    ).toThrow(/renewDeadline/);
    expect(() => new LeaderElector({ identity: '', store })).toThrow(/identity/);
  });
});

describe('InMemoryLeaseStore', () => {
  it('enforces resourceVersion like the API server', async () => {
    const store = new InMemoryLeaseStore();
    await store.create({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    await expect(store.create({ leaseDurationSeconds: 15, leaseTransitions: 0 })).rejects.toBeInstanceOf(ConflictError);
    const rec = await store.get();
    await store.update({ ...rec!, holderIdentity: 'b' }, rec?.resourceVersion);
    await expect(store.update({ ...rec!, holderIdentity: 'c' }, rec?.resourceVersion)).rejects.toBeInstanceOf(ConflictError);
    expect(store.current()?.holderIdentity).toBe('b');
  });
});
