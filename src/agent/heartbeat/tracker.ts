/**
 * Ages of other hosts' storage heartbeats, measured by the reader alone.
 *
 * The age of a heartbeat is the time since this agent first saw its current
 * (bootId, seq), on this agent's monotonic clock. The alternatives are
 * worse: `now - writtenAt` mixes two hosts' wall clocks (a writer whose
 * clock runs behind looks dead), and `now - mtime` uses the clock of
 * whoever stamped the file (the writer, or the NFS server). Only "has it
 * changed since I last looked" is free of clock skew.
 *
 * A heartbeat first seen counts from that moment, so after a reader starts
 * a dead host's stale file looks fresh for up to the failure threshold:
 * ages may understate, never overstate. Understating delays a failover;
 * overstating could declare a live host dead.
 *
 * @packageDocumentation
 */
import type { HeartbeatRecord } from './record.js';

/** A heartbeat with its age as this reader measured it. */
export interface ObservedHeartbeat extends HeartbeatRecord {
  ageSeconds: number;
}

interface Seen {
  bootId: string;
  seq: number;
  /** Monotonic ms when this (bootId, seq) was first seen. */
  since: number;
}

/** Tracks, per storage domain and host, when each heartbeat last changed. */
export class HeartbeatTracker {
  private readonly seen = new Map<string, Map<string, Seen>>();

  /** @param now - monotonic milliseconds (default `performance.now()`). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Records what was read on `domain` now and returns each heartbeat with
   * its age. Hosts whose file disappeared are forgotten.
   */
  observe(domain: string, records: readonly HeartbeatRecord[]): ObservedHeartbeat[] {
    const t = this.now();
    const previous = this.seen.get(domain) ?? new Map<string, Seen>();
    const next = new Map<string, Seen>();
    const out: ObservedHeartbeat[] = [];
    for (const r of records) {
      const p = previous.get(r.host);
      const changed = p === undefined || p.bootId !== r.bootId || p.seq !== r.seq;
      const s: Seen = changed ? { bootId: r.bootId, seq: r.seq, since: t } : p;
      next.set(r.host, s);
      out.push({ ...r, ageSeconds: Math.max(0, Math.round(t - s.since) / 1000) });
    }
    this.seen.set(domain, next);
    return out;
  }

  /** Forgets a domain (disconnected). */
  forget(domain: string): void {
    this.seen.delete(domain);
  }
}
