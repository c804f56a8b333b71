/**
 * The agent's storage heartbeat loop: every interval, on every connected
 * storage domain, write this host's heartbeat file and read everyone's
 * (updating their ages, see tracker.ts). A write that fails or hangs marks
 * the domain's heartbeat failed; {@link StorageHeartbeats.overlay} puts that
 * into the domain's status, so the operator sees the host losing its
 * storage even while the management network still works.
 *
 * @packageDocumentation
 */
import type { Logger } from 'pino';
import { AgentApiError } from '../../api/agent/index.js';
import type { DomainStatus, StorageManager } from '../storage/types.js';
import { readHeartbeats, writeHeartbeat, type HeartbeatRecord } from './record.js';
import { HeartbeatTracker, type ObservedHeartbeat } from './tracker.js';

/** This host's own heartbeat on one domain. */
export interface OwnHeartbeat {
  ok: boolean;
  seq: number;
  writtenAt?: string;
  error?: string;
}

/** Options of {@link StorageHeartbeats}. */
export interface StorageHeartbeatOptions {
  storage: Pick<StorageManager, 'roots'>;
  /** This host's name (the Host object's name: the CN of the agent's certificate). */
  host: string;
  /** This agent run's id (the event stream's boot id). */
  bootId: string;
  /** Interval between writes. */
  intervalMs: number;
  logger: Logger;
  /** A write (or read) taking longer than this counts as failed; default twice the interval, at least 2 s. */
  ioTimeoutMs?: number;
  /** Called when a domain's heartbeat verdict (ok or not) changes. */
  onChange?: () => void;
  /** Monotonic milliseconds (tests). */
  now?: () => number;
  /** Wall clock for `writtenAt` (tests). */
  wallClock?: () => Date;
  /** The file operations (tests replace them, e.g. with a write that hangs like one on a dead NFS server). */
  io?: { write: typeof writeHeartbeat; read: typeof readHeartbeats };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes this host's heartbeats and reads everyone's. */
export class StorageHeartbeats {
  private readonly tracker: HeartbeatTracker;
  private readonly own = new Map<string, OwnHeartbeat>();
  /** Domains whose previous write has not finished (a hung mount): not written again meanwhile. */
  private readonly inFlight = new Set<string>();
  private readonly ioTimeoutMs: number;
  private readonly wallClock: () => Date;
  private readonly io: { write: typeof writeHeartbeat; read: typeof readHeartbeats };
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly options: StorageHeartbeatOptions) {
    this.tracker = new HeartbeatTracker(options.now);
    this.ioTimeoutMs = options.ioTimeoutMs ?? Math.max(2000, 2 * options.intervalMs);
    this.wallClock = options.wallClock ?? (() => new Date());
    this.io = options.io ?? { write: writeHeartbeat, read: readHeartbeats };
  }

  /** Starts the loop (first beat at once). */
  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the loop. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One beat on every domain; one at a time (a slow beat is not overlapped by the next). */
  tick(): Promise<void> {
    this.ticking ??= this.beat().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** This host's own heartbeat state on `domain`, if it has tried to write there. */
  ownState(domain: string): OwnHeartbeat | undefined {
    const s = this.own.get(domain);
    return s === undefined ? undefined : { ...s };
  }

  /**
   * Every host's heartbeat on `domain`, read now, with ages as this agent
   * measures them.
   *
   * @throws AgentApiError 404 when the domain is not connected here, 503 when its storage is unreachable.
   */
  async heartbeats(domain: string): Promise<ObservedHeartbeat[]> {
    const target = (await this.options.storage.roots()).find((r) => r.name === domain);
    if (target === undefined) throw new AgentApiError(404, 'NotFound', `storage domain "${domain}" is not connected on this host`);
    if (!target.attached) throw new AgentApiError(503, 'Unavailable', `storage of domain "${domain}" is not reachable at ${target.root}`);
    let records: HeartbeatRecord[];
    try {
      records = await withTimeout(this.io.read(target.root), this.ioTimeoutMs, 'heartbeat read');
    } catch (error) {
      throw new AgentApiError(503, 'Unavailable', `cannot read heartbeats of storage domain "${domain}": ${message(error)}`);
    }
    return this.tracker.observe(domain, records);
  }

  /**
   * `status` with this host's heartbeat added; a failed heartbeat also makes
   * `health.ok` false with the error, since that is what the operator
   * judges a host's storage by.
   */
  overlay(status: DomainStatus): DomainStatus {
    const own = this.own.get(status.name);
    if (own === undefined || !status.connected) return status;
    const out: DomainStatus = { ...status, heartbeat: { ...own } };
    if (!own.ok) {
      const error = `storage heartbeat failed: ${own.error ?? 'unknown error'}`;
      out.health = status.health
        ? { ...status.health, ok: false, error: status.health.ok ? error : `${status.health.error ?? 'unhealthy'}; ${error}` }
        : { ok: false, readLatencyMs: -1, writeLatencyMs: -1, checkedAt: this.wallClock().toISOString(), error };
    }
    return out;
  }

  private async beat(): Promise<void> {
    let roots: Awaited<ReturnType<StorageHeartbeatOptions['storage']['roots']>>;
    try {
      roots = await this.options.storage.roots();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'storage heartbeat: cannot list storage domains');
      return;
    }
    const seq = ++this.seq;
    const before = new Map([...this.own].map(([k, v]) => [k, v.ok]));
    const names = new Set(roots.map((r) => r.name));
    for (const name of [...this.own.keys()]) {
      if (!names.has(name)) {
        this.own.delete(name);
        this.tracker.forget(name);
      }
    }
    await Promise.all(roots.map((r) => this.beatOne(r.name, r.root, r.attached, seq)));
    const changed = [...this.own].some(([k, v]) => before.get(k) !== v.ok) || before.size !== this.own.size;
    if (changed) this.options.onChange?.();
  }

  private async beatOne(name: string, root: string, attached: boolean, seq: number): Promise<void> {
    const last = this.own.get(name);
    const fail = (error: string): void => {
      if (last?.ok !== false) this.options.logger.warn({ domain: name, error }, 'storage heartbeat failed');
      this.own.set(name, { ok: false, seq: last?.seq ?? 0, ...(last?.writtenAt ? { writtenAt: last.writtenAt } : {}), error });
    };
    if (!attached) return fail(`storage is not reachable at ${root}`);
    if (this.inFlight.has(name)) return fail(`the previous heartbeat write has not finished (hung storage?)`);
    const record: HeartbeatRecord = { host: this.options.host, bootId: this.options.bootId, seq, writtenAt: this.wallClock().toISOString() };
    this.inFlight.add(name);
    const write = this.io.write(root, record).finally(() => this.inFlight.delete(name));
    try {
      await withTimeout(write, this.ioTimeoutMs, 'heartbeat write');
    } catch (error) {
      return fail(message(error));
    }
    if (last?.ok === false) this.options.logger.info({ domain: name }, 'storage heartbeat written again');
    this.own.set(name, { ok: true, seq, writtenAt: record.writtenAt });
    try {
      this.tracker.observe(name, await withTimeout(this.io.read(root), this.ioTimeoutMs, 'heartbeat read'));
    } catch (error) {
      this.options.logger.warn({ domain: name, err: error }, 'storage heartbeat: cannot read the other hosts');
    }
  }
}
