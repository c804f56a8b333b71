/**
 * Which nodes are live, judged the way the storage heartbeats are (see
 * docs/ha-agent.md): a node's age is the time, on the reader's monotonic
 * clock, since the reader first saw the node's current (bootId, seq). No
 * wall clock enters it, so clock skew between nodes cannot make a live node
 * look dead. A record first seen by a reader that just started counts from
 * then: ages can understate, never overstate (a dead node is declared dead
 * late, never early).
 *
 * @packageDocumentation
 */
import type { NodeRecord } from './metadata.js';

/** Ages of node records on this reader's monotonic clock. */
export class LivenessTracker {
  private readonly firstSeen = new Map<string, { key: string; at: number }>();

  /** Notes the records read at `now` (monotonic ms) and returns each node's age in ms. */
  observe(records: readonly NodeRecord[], now: number): Map<string, number> {
    const ages = new Map<string, number>();
    for (const r of records) {
      const key = `${r.bootId}/${r.seq}`;
      const seen = this.firstSeen.get(r.name);
      if (seen === undefined || seen.key !== key) this.firstSeen.set(r.name, { key, at: now });
      ages.set(r.name, now - this.firstSeen.get(r.name)!.at);
    }
    return ages;
  }
}

/**
 * A node's age by wall clock (`now - writtenAt`), for one-shot readers such
 * as `drover hosted-engine status` that cannot watch records change. Needs
 * the nodes' clocks in step (NTP); a writtenAt in the future counts as 0.
 */
export function wallClockAge(record: Pick<NodeRecord, 'writtenAt'>, now: Date): number {
  const at = Date.parse(record.writtenAt);
  return Number.isFinite(at) ? Math.max(0, now.getTime() - at) : Number.POSITIVE_INFINITY;
}
