/**
 * Coalescing status writes whose only news is a counter or a timestamp
 * (a Host's heartbeat time and usage, a Manager's object counts): during a
 * cold start every VM event moved them, so each Host wrote about once a
 * second and the Manager once per VM (docs/profiles.md: ~600 of the ~1,700
 * operator requests of a 200-VM cold start). Such a change is written at
 * most once per interval per object; the reconcile asks to run again when
 * the interval is over, so the latest value always gets written. Changes of
 * anything else (phase, conditions) are written at once.
 *
 * The held-back write is made by that later pass, from the object the cache
 * has then, so it carries the newest resourceVersion. A write refused as
 * stale (409) is not recorded as written: the next pass, from the newer
 * object, computes the status again and writes it without waiting.
 */
import { canonicalJson } from '../operator/status.js';

/** Remembers when each object's status was last written. */
export class StatusCoalescer {
  private readonly lastWrite = new Map<string, number>();

  /**
   * Milliseconds to hold back the write of `next` over `previous` for
   * `key`: 0 to write now (something besides `minor` fields changed, or
   * the last write is `intervalMs` old), else the time left.
   */
  holdBack(key: string, previous: object | undefined, next: object, minor: readonly string[], intervalMs: number, nowMs: number): number {
    const last = this.lastWrite.get(key);
    if (last === undefined || nowMs - last >= intervalMs) return 0;
    return sameBut(previous ?? {}, next, minor) ? last + intervalMs - nowMs : 0;
  }

  /** Records a write of `key`'s status at `nowMs` (one that got through: a refused one is no write). */
  wrote(key: string, nowMs: number): void {
    this.lastWrite.set(key, nowMs);
  }

  /** Forgets `key` (the object is gone). */
  forget(key: string): void {
    this.lastWrite.delete(key);
  }
}

/** True when `a` and `b` differ at most in the top-level fields `minor`. */
export function sameBut(a: object, b: object, minor: readonly string[]): boolean {
  const strip = (o: object) => Object.fromEntries(Object.entries(o).filter(([k, v]) => !minor.includes(k) && v !== undefined));
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}
