/**
 * The threaded elector's protocol, both sides in one thread over a
 * MessageChannel (the real worker thread is covered by
 * test/integration/leader-thread.test.ts against the API server).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { LeaderElector, type LeaderCallbacks, type LeaseStore } from '../../../src/runtime/leader-election.js';
import { InMemoryLeaseStore } from '../../../src/runtime/memory-lease-store.js';
import { createRenewalRecord, serveElector, StallGuardedStore, ThreadedLeaderElector, type ElectorWorker } from '../../../src/runtime/threaded-elector.js';

const FAST = { leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 50 };
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await pause(5);
  }
}

/** A MessagePort dressed as a Worker: it can also "exit" or fail on demand. */
class PortWorker extends EventEmitter implements ElectorWorker {
  constructor(private readonly port: MessagePort) {
    super();
    port.on('message', (m) => this.emit('message', m));
  }
  postMessage(message: unknown): void {
    this.port.postMessage(message);
  }
}

interface Pair {
  main: ThreadedLeaderElector;
  worker: PortWorker;
  workerSide: LeaderElector;
  events: string[];
  close(): void;
}

const pairs: Pair[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([p.main.stop({ release: false }), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    p.close();
    await p.workerSide.stop({ release: false });
  }
});

/**
 * One candidate: the worker side serving an elector on `store`, the main side
 * whose leader work runs until aborted and records what happened.
 */
function candidate(identity: string, store: LeaseStore, opts: { stallLimitMs?: number; work?: (signal: AbortSignal, events: string[]) => Promise<void> } = {}): Pair {
  const { port1, port2 } = new MessageChannel();
  const renewal = createRenewalRecord();
  const events: string[] = [];
  const workerSide = serveElector({
    port: port2,
    renewal,
    stallLimitMs: opts.stallLimitMs ?? 10_000,
    createElector: (callbacks, stalled) => new LeaderElector({ identity, store: new StallGuardedStore(store, stalled), ...FAST, callbacks }),
    onDone: () => port2.close(),
  });
  const worker = new PortWorker(port1);
  const callbacks: LeaderCallbacks = {
    onStartedLeading: async (signal) => {
      events.push('started');
      if (opts.work) return opts.work(signal, events);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      events.push('work-ended');
    },
    onStoppedLeading: () => events.push('stopped'),
    onNewLeader: (id) => events.push(`leader:${id}`),
  };
  const main = new ThreadedLeaderElector({ worker, renewal, renewDeadlineMs: FAST.renewDeadlineMs, retryPeriodMs: FAST.retryPeriodMs, callbacks });
  main.start();
  const pair = { main, worker, workerSide, events, close: () => port1.close() };
  pairs.push(pair);
  return pair;
}

describe('ThreadedLeaderElector', () => {
  it('leads through the worker: the main side starts its work and reads the renewals from shared memory', async () => {
    const store = new InMemoryLeaseStore();
    const a = candidate('a', store);
    await waitFor(() => a.events.includes('started'));
    expect(a.main.isLeader()).toBe(true);
    expect(store.current()?.holderIdentity).toBe('a');
    const first = store.current()!.renewTime!.getTime();
    await pause(FAST.retryPeriodMs * 4);
    // Still leading well past the renew deadline's worth of retries: renewals keep landing.
    expect(store.current()!.renewTime!.getTime()).toBeGreaterThan(first);
    expect(a.main.isLeader()).toBe(true);
    expect(a.events).toContain('leader:a');
  });

  it('a graceful stop ends the leader work before the Lease is released', async () => {
    const store = new InMemoryLeaseStore();
    let holderWhenWorkEnded: string | undefined = 'unset';
    const a = candidate('a', store, {
      work: async (signal, events) => {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        await pause(100); // draining takes a while
        holderWhenWorkEnded = store.current()?.holderIdentity;
        events.push('work-ended');
      },
    });
    await waitFor(() => a.main.isLeader());
    await a.main.stop({ release: true });
    expect(holderWhenWorkEnded).toBe('a');
    expect(store.current()?.holderIdentity).toBe('');
    expect(a.events).toEqual(['leader:a', 'started', 'work-ended', 'stopped']);
    expect(a.main.isLeader()).toBe(false);
  });

  it('a renewal failing past the deadline ends leadership: work aborted, stopped reported, isLeader false', async () => {
    let failing = false;
    // The stall guard doubles as an API server that stops answering.
    const store = new StallGuardedStore(new InMemoryLeaseStore(), () => failing);
    const a = candidate('a', store);
    await waitFor(() => a.main.isLeader());
    failing = true;
    await waitFor(() => a.events.includes('stopped'), 3000);
    expect(a.events).toContain('work-ended');
    expect(a.main.isLeader()).toBe(false);
  });

  it('a standby takes over after the leader releases', async () => {
    const store = new InMemoryLeaseStore();
    const a = candidate('a', store);
    await waitFor(() => a.main.isLeader());
    const b = candidate('b', store);
    await pause(FAST.retryPeriodMs * 3);
    expect(b.main.isLeader()).toBe(false);
    expect(b.events).toEqual(['leader:a']);
    await a.main.stop({ release: true });
    await waitFor(() => b.main.isLeader(), 3000);
    expect(store.current()?.holderIdentity).toBe('b');
    expect(store.current()?.leaseTransitions).toBe(1);
  });

  it('a main thread that stops saying alive is taken as hung: the worker stops renewing and leadership is lost', async () => {
    const store = new InMemoryLeaseStore();
    const a = candidate('a', store, { stallLimitMs: 150 });
    await waitFor(() => a.main.isLeader());
    // Silence the main side's "alive" messages (a hung event loop sends none).
    (a.worker as unknown as { postMessage: (m: unknown) => void }).postMessage = () => undefined;
    await waitFor(() => a.events.includes('stopped'), 3000);
    expect(a.main.isLeader()).toBe(false);
    // The Lease was not renewed after the stall: a standby may take it once it expires.
    const renewed = store.current()!.renewTime!.getTime();
    await pause(FAST.retryPeriodMs * 3);
    expect(store.current()!.renewTime!.getTime()).toBe(renewed);
  });

  it('a worker that dies ends leadership on the main side', async () => {
    const store = new InMemoryLeaseStore();
    const a = candidate('a', store);
    await waitFor(() => a.main.isLeader());
    a.worker.emit('exit', 1);
    await waitFor(() => a.events.includes('stopped'));
    expect(a.events).toContain('work-ended');
    expect(a.main.isLeader()).toBe(false);
    a.close(); // the dead worker's channel goes away with it
    await a.workerSide.stop({ release: false });
  });
});

describe('StallGuardedStore', () => {
  it('refuses every call while stalled and passes them through otherwise', async () => {
    const inner = new InMemoryLeaseStore();
    let stalled = true;
    const store = new StallGuardedStore(inner, () => stalled);
    const record = { holderIdentity: 'a', leaseDurationSeconds: 1, leaseTransitions: 0 };
    await expect(store.create(record)).rejects.toThrow(/stall limit/);
    expect(inner.current()).toBeUndefined();
    stalled = false;
    await store.create(record);
    expect((await store.get())?.holderIdentity).toBe('a');
  });
});
