/**
 * Storage domain health as host events. The storage manager probes; this
 * polls its view and publishes a StorageDomainHealth event whenever a
 * domain's connection or health verdict changes, so the operator hears of a
 * failing domain without polling every host itself.
 */
import type { Logger } from 'pino';
import type { AgentEventInput } from '../../api/agent/index.js';
import type { DomainStatus, StorageManager } from '../storage/types.js';

function verdict(d: DomainStatus): string {
  return JSON.stringify([d.connected, d.health?.ok ?? null, d.health?.error ?? null]);
}

/** Polls storage status and publishes changes. */
export class StorageHealthWatch {
  private readonly known = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly storage: StorageManager,
    private readonly publish: (event: AgentEventInput) => void,
    private readonly logger: Logger,
    /** Poll interval; 0 = only on demand ({@link check}). */
    private readonly intervalMs: number,
  ) {}

  /** Starts polling (with a first check at once). */
  start(): void {
    void this.check();
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => void this.check(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Stops polling. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Compares the current view with the last one and publishes differences; one check at a time. */
  check(): Promise<void> {
    this.checking ??= this.compare().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async compare(): Promise<void> {
    let domains: DomainStatus[];
    try {
      domains = await this.storage.list();
    } catch (error) {
      this.logger.warn({ err: error }, 'storage status unavailable');
      return;
    }
    const seen = new Set<string>();
    for (const d of domains) {
      seen.add(d.name);
      const v = verdict(d);
      if (this.known.get(d.name) === v) continue;
      this.known.set(d.name, v);
      const event: AgentEventInput = { type: 'StorageDomainHealth', domain: d.name, connected: d.connected };
      if (d.health !== undefined) event.ok = d.health.ok;
      if (d.health?.error !== undefined) event.error = d.health.error;
      const log = { domain: d.name, connected: d.connected, ok: d.health?.ok, error: d.health?.error };
      if (d.health?.ok === false) this.logger.warn(log, 'storage domain unhealthy');
      else this.logger.info(log, 'storage domain state changed');
      this.publish(event);
    }
    for (const name of [...this.known.keys()]) {
      if (seen.has(name)) continue;
      this.known.delete(name);
      this.logger.info({ domain: name }, 'storage domain gone');
      this.publish({ type: 'StorageDomainHealth', domain: name, connected: false });
    }
  }
}
