import { afterEach, describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { ItemExponentialRateLimiter, type RateLimiter } from '../../../src/runtime/backoff.js';
import { Controller, type ControllerOptions, type Reconciler } from '../../../src/runtime/controller.js';
import { TerminalError } from '../../../src/runtime/errors.js';
import { Registry, RuntimeMetrics } from '../../../src/runtime/metrics.js';

const silent = pino({ level: 'silent' });

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Records every delay the controller asks for. */
class RecordingLimiter implements RateLimiter {
  readonly delays: number[] = [];
  private readonly inner = new ItemExponentialRateLimiter({ baseDelayMs: 10 });
  when(key: string): number {
    const d = this.inner.when(key);
    this.delays.push(d);
    return d;
  }
  forget(key: string): void {
    this.inner.forget(key);
  }
  numRequeues(key: string): number {
    return this.inner.numRequeues(key);
  }
}

const controllers: Controller[] = [];
function newController(reconcile: Reconciler, extra: Partial<ControllerOptions> = {}): Controller {
  const c = new Controller({ name: 'test', reconcile, logger: silent, ...extra });
  controllers.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(controllers.splice(0).map((c) => c.stop(1000)));
});

describe('Controller', () => {
  it('retries a failing reconcile with growing delays and success resets the backoff', async () => {
    const limiter = new RecordingLimiter();
    let attempts = 0;
    let failuresLeft = 3;
    const requeuesSeen: number[] = [];
    const c = newController(
      async (key) => {
        attempts++;
        requeuesSeen.push(c.queue.numRequeues(key));
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error('agent unreachable');
        }
      },
      { rateLimiter: limiter },
    );
    c.start();
    c.enqueue('default/vm1');
    await waitFor(() => attempts === 4);
    await waitFor(() => c.queue.numRequeues('default/vm1') === 0);
    expect(limiter.delays).toEqual([10, 20, 40]);
    expect(requeuesSeen).toEqual([0, 1, 2, 3]);

    // After the success, the next failure starts from the base delay again.
    failuresLeft = 1;
    c.enqueue('default/vm1');
    await waitFor(() => attempts === 6);
    expect(limiter.delays).toEqual([10, 20, 40, 10]);
  });

  it('does not retry a TerminalError and counts it', async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry);
    let attempts = 0;
    const c = newController(
      async () => {
        attempts++;
        throw new TerminalError('spec.memory is not a quantity');
      },
      { metrics, rateLimiter: new ItemExponentialRateLimiter({ baseDelayMs: 1 }) },
    );
    c.start();
    c.enqueue('default/bad');
    await waitFor(() => attempts === 1);
    await pause(100); // a retry with a 1 ms base delay would have happened by now
    expect(attempts).toBe(1);
    expect(c.queue.numRequeues('default/bad')).toBe(0);
    expect(metrics.terminalReconcileErrors.get({ controller: 'test' })).toBe(1);
    expect(metrics.reconcileErrors.get({ controller: 'test' })).toBe(1);
    expect(metrics.reconcileTotal.get({ controller: 'test', result: 'error' })).toBe(1);
  });

  it('honours requeueAfter and records outcomes in metrics', async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry);
    let attempts = 0;
    const c = newController(
      async () => {
        attempts++;
        return attempts === 1 ? { requeueAfter: 20 } : undefined;
      },
      { metrics },
    );
    c.start();
    c.enqueue('ns/a');
    await waitFor(() => attempts === 2);
    await waitFor(() => metrics.reconcileTotal.get({ controller: 'test', result: 'success' }) === 1);
    expect(metrics.reconcileTotal.get({ controller: 'test', result: 'requeue_after' })).toBe(1);
    expect(metrics.reconcileTime.count({ controller: 'test' })).toBe(2);
    expect(metrics.maxConcurrentReconciles.get({ controller: 'test' })).toBe(2);
    expect(metrics.adds.get({ name: 'test' })).toBe(2);
    expect(registry.metrics()).toContain('controller_runtime_reconcile_total{controller="test",result="success"} 1');
  });

  it('runs up to maxConcurrentReconciles keys at once and never the same key twice at once', async () => {
    let running = 0;
    let peak = 0;
    const runningKeys = new Set<string>();
    let overlap = false;
    let finished = 0;
    const c = newController(
      async (key) => {
        if (runningKeys.has(key)) overlap = true;
        runningKeys.add(key);
        running++;
        peak = Math.max(peak, running);
        await pause(20);
        running--;
        runningKeys.delete(key);
        finished++;
      },
      { maxConcurrentReconciles: 2 },
    );
    c.start();
    for (const k of ['n/a', 'n/b', 'n/c', 'n/d']) c.enqueue(k);
    await waitFor(() => running > 0);
    c.enqueue('n/a'); // added while in flight: must wait for the first run
    await waitFor(() => finished === 5);
    expect(peak).toBe(2);
    expect(overlap).toBe(false);
  });

  it('stop() lets the in-flight reconcile finish and starts nothing new', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    let completed = 0;
    const c = newController(
      async (key) => {
        started.push(key);
        await gate;
        completed++;
      },
      { maxConcurrentReconciles: 1 },
    );
    c.start();
    c.enqueue('n/first');
    c.enqueue('n/second');
    await waitFor(() => started.length === 1);
    let stopped: boolean | undefined;
    const stopping = c.stop(2000).then((r) => (stopped = r));
    c.enqueue('n/third');
    await pause(20);
    expect(stopped).toBeUndefined();
    release();
    await stopping;
    expect(stopped).toBe(true);
    expect(completed).toBe(1);
    expect(started).toEqual(['n/first']);
  });

  it('stop() gives up after its timeout and aborts the in-flight reconcile', async () => {
    let signal: AbortSignal | undefined;
    const c = newController(
      (_key, ctx) =>
        new Promise<void>((resolve) => {
          signal = ctx.signal;
          ctx.signal.addEventListener('abort', () => resolve());
        }),
    );
    c.start();
    c.enqueue('n/stuck');
    await waitFor(() => signal !== undefined);
    expect(await c.stop(30)).toBe(false);
    expect(signal?.aborted).toBe(true);
  });

  it('logs reconcile errors with controller, namespace and name fields', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
    let attempts = 0;
    const c = newController(
      async () => {
        attempts++;
        throw new TerminalError('boom');
      },
      { logger, name: 'virtualmachine' },
    );
    c.start();
    c.enqueue('prod/web-1');
    c.enqueue('cluster-scoped');
    await waitFor(() => attempts === 2);
    await waitFor(() => lines.filter((l) => l['level'] === 50).length === 2);
    const errors = lines.filter((l) => l['level'] === 50);
    const namespaced = errors.find((l) => l['name'] === 'web-1');
    expect(namespaced).toMatchObject({ controller: 'virtualmachine', namespace: 'prod', name: 'web-1' });
    expect((namespaced?.['err'] as { message?: string } | undefined)?.message).toBe('boom');
    const clusterScoped = errors.find((l) => l['name'] === 'cluster-scoped');
    expect(clusterScoped).toBeDefined();
    expect(clusterScoped).not.toHaveProperty('namespace');
  });
});
