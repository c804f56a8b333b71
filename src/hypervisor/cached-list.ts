/**
 * A HypervisorDriver decorator that serves list() from memory. Listing every
 * domain costs two virsh round trips and libvirt work per domain, and the agent
 * lists on every VM list, host stats call and define; yet the list only
 * changes when something happens to a domain. So the cached list is dropped
 * on every lifecycle event the inner driver reports, on every mutating call
 * made through this driver, and when older than `maxAgeMs` (a bound for
 * events that never arrive). get() always asks the hypervisor: the verbs
 * that decide what to do read live state.
 */
import type { DomainEvent, DomainInfo, DomainName, HostCapabilities, HypervisorDriver, JobInfo, MigrationOptions } from './driver.js';

/** Options for {@link CachedListDriver}. */
export interface CachedListOptions {
  /** Longest time a cached list is served without an event or a change (default 10 s). */
  maxAgeMs?: number;
  /** Time source in ms (tests). */
  now?: () => number;
}

/** See the module comment. */
export class CachedListDriver implements HypervisorDriver {
  private cached: { at: number; domains: DomainInfo[] } | undefined;
  /** Bumped on every invalidation, so a list started before a change is not cached after it. */
  private generation = 0;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly inner: HypervisorDriver,
    options: CachedListOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 10_000;
    this.now = options.now ?? (() => performance.now());
  }

  /** Forgets the cached list. */
  invalidate(): void {
    this.generation += 1;
    this.cached = undefined;
  }

  async list(): Promise<DomainInfo[]> {
    const cached = this.cached;
    if (cached && this.now() - cached.at <= this.maxAgeMs) return cached.domains.map((d) => ({ ...d }));
    const generation = this.generation;
    const at = this.now();
    const domains = await this.inner.list();
    if (generation === this.generation) this.cached = { at, domains: domains.map((d) => ({ ...d })) };
    return domains;
  }

  /** From the cached list while it is fresh, else the inner driver's (cheap) listing of names. */
  async names(): Promise<DomainName[]> {
    const cached = this.cached;
    if (cached && this.now() - cached.at <= this.maxAgeMs) return cached.domains.map((d) => ({ uuid: d.uuid, name: d.name }));
    return this.inner.names();
  }

  capabilities(): Promise<HostCapabilities> {
    return this.inner.capabilities();
  }

  get(uuid: string): Promise<DomainInfo | undefined> {
    return this.inner.get(uuid);
  }

  jobInfo(uuid: string): Promise<JobInfo> {
    return this.inner.jobInfo(uuid);
  }

  define(xml: string): Promise<void> {
    return this.changing(() => this.inner.define(xml));
  }

  start(uuid: string): Promise<void> {
    return this.changing(() => this.inner.start(uuid));
  }

  shutdown(uuid: string): Promise<void> {
    return this.changing(() => this.inner.shutdown(uuid));
  }

  destroy(uuid: string): Promise<void> {
    return this.changing(() => this.inner.destroy(uuid));
  }

  suspend(uuid: string): Promise<void> {
    return this.changing(() => this.inner.suspend(uuid));
  }

  resume(uuid: string): Promise<void> {
    return this.changing(() => this.inner.resume(uuid));
  }

  undefine(uuid: string): Promise<void> {
    return this.changing(() => this.inner.undefine(uuid));
  }

  migrate(uuid: string, options: MigrationOptions): Promise<void> {
    return this.changing(() => this.inner.migrate(uuid, options));
  }

  abortJob(uuid: string): Promise<void> {
    return this.changing(() => this.inner.abortJob(uuid));
  }

  /** The inner driver's events, each one dropping the cached list before it is passed on. */
  async *events(signal: AbortSignal): AsyncIterable<DomainEvent> {
    for await (const event of this.inner.events(signal)) {
      this.invalidate();
      yield event;
    }
  }

  /** Runs a mutating call, dropping the cached list before and after (whatever its outcome). */
  private async changing(call: () => Promise<void>): Promise<void> {
    this.invalidate();
    try {
      await call();
    } finally {
      this.invalidate();
    }
  }
}
