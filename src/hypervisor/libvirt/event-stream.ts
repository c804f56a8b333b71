/**
 * Lifecycle events from a long-running `virsh event --event lifecycle
 * --loop --timestamp`, supervised: when virsh exits (libvirtd restarted,
 * connection lost) it is started again with exponential backoff until the
 * caller aborts.
 *
 * Events that happen while no virsh is connected are lost; callers that
 * need completeness re-list domains after a gap (the agent resyncs from
 * `list()` periodically anyway).
 *
 * @packageDocumentation
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { DomainEvent } from '../driver.js';
import { AsyncQueue } from './async-queue.js';
import { parseLifecycleLine, type LifecycleLine } from './parse-event.js';
import { Virsh } from './virsh.js';

/** Where the stream reports restarts and dropped events. */
export interface EventStreamLogger {
  warn(obj: object, msg: string): void;
}

/** Options of {@link lifecycleEvents}. */
export interface EventStreamOptions {
  virsh: Virsh;
  /** Resolves an event's domain name to its UUID; `undefined` drops the event. */
  resolve: (line: LifecycleLine) => Promise<string | undefined>;
  /** Called after each (re)start of virsh, e.g. to refresh a name cache. */
  onConnect?: () => void;
  signal: AbortSignal;
  log?: EventStreamLogger;
  /** First restart delay (default 200 ms), doubled per quick failure up to `maxBackoffMs` (default 5 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** A virsh child that ran at least this long counts as healthy: the backoff starts over. */
const HEALTHY_RUN_MS = 10_000;

/**
 * virsh keepalive: a ping every 5 s, give up after 3 missed answers, so a
 * dead connection ends virsh (and triggers a restart) within ~20 s instead
 * of hanging forever.
 */
const KEEPALIVE_ARGS = ['-k', '5', '-K', '3'];

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs one virsh event child until it exits; lines go to `onLine` as they arrive. */
function runChild(opts: EventStreamOptions, onLine: (line: string) => void): Promise<{ code: number | null; stderr: string }> {
  const args = [...KEEPALIVE_ARGS, ...opts.virsh.argv(['event', '--event', 'lifecycle', '--loop', '--timestamp'])];
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(opts.virsh.binary, args, { env: Virsh.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: null, stderr: String(err) });
      return;
    }
    let stderr = '';
    const kill = (): void => {
      child.kill('SIGTERM');
    };
    opts.signal.addEventListener('abort', kill, { once: true });
    child.stderr?.on('data', (b: Buffer) => {
      // Only the tail matters for the log line.
      stderr = (stderr + b.toString('utf8')).slice(-2000);
    });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (code) => {
      opts.signal.removeEventListener('abort', kill);
      resolve({ code, stderr });
    });
  });
}

/**
 * Lifecycle events until `opts.signal` aborts (or the consumer stops
 * iterating). Order is preserved: each line is resolved to a UUID before
 * the next one is handled.
 */
export async function* lifecycleEvents(opts: EventStreamOptions): AsyncGenerator<DomainEvent, void, undefined> {
  const queue = new AsyncQueue<DomainEvent>();
  // Stopping iteration early must stop the child too, so the stream owns an
  // abort controller chained to the caller's signal.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  if (opts.signal.aborted) stop.abort();
  const inner: EventStreamOptions = { ...opts, signal: stop.signal };

  let chain: Promise<void> = Promise.resolve();
  const handle = (text: string): void => {
    const line = parseLifecycleLine(text);
    if (!line) return;
    chain = chain.then(async () => {
      const uuid = await opts.resolve(line).catch(() => undefined);
      if (uuid === undefined) {
        opts.log?.warn({ domain: line.name, event: line.event }, 'dropping lifecycle event of a domain whose UUID is unknown');
        return;
      }
      queue.push({ uuid, name: line.name, event: line.event, detail: line.detail, time: line.time });
    });
  };

  const supervisor = (async () => {
    const initial = opts.initialBackoffMs ?? 200;
    const max = opts.maxBackoffMs ?? 5_000;
    let backoff = initial;
    while (!stop.signal.aborted) {
      opts.onConnect?.();
      const started = Date.now();
      const { code, stderr } = await runChild(inner, handle);
      if (stop.signal.aborted) break;
      if (Date.now() - started >= HEALTHY_RUN_MS) backoff = initial;
      opts.log?.warn({ uri: opts.virsh.uri, code, stderr: stderr.trim(), retryInMs: backoff }, 'virsh event exited; restarting');
      await sleep(backoff, stop.signal);
      backoff = Math.min(max, backoff * 2);
    }
    await chain;
    queue.close();
  })();

  try {
    for (;;) {
      const r = await queue.next();
      if (r.done) break;
      yield r.value;
    }
  } finally {
    stop.abort();
    opts.signal.removeEventListener('abort', onAbort);
    await supervisor;
  }
}
