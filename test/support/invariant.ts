/**
 * The "never run a VM twice" invariant, watched throughout a test: samples
 * every test host (libvirt inside the host plus its QEMU processes, see
 * src/check) about every 250 ms and keeps every violation it sees.
 *
 *   const watch = watchInvariant(tb);
 *   ... inject faults, wait for failover ...
 *   expect(await watch.stop()).toEqual([]);
 */
import { findViolations, sampleTestbed, type Violation } from '../../src/check/index.js';
import { readState, type Testbed } from '../../src/dev/testbed/index.js';

/** A violation and when it was seen. */
export interface SeenViolation extends Violation {
  /** Milliseconds since the watch started. */
  atMs: number;
}

/** A running watch. */
export interface InvariantWatch {
  /** Samples taken so far. */
  readonly samples: number;
  /** Stops sampling (after the sample in flight) and returns every violation seen, in order. */
  stop(): Promise<SeenViolation[]>;
}

/**
 * Starts sampling the test bed's hosts every `intervalMs` (default 250 ms;
 * a sample that takes longer delays the next one rather than overlapping).
 * Re-reads the test bed's state each round, so hosts powered on again are
 * asked again.
 */
export function watchInvariant(tb: Testbed, intervalMs = 250): InvariantWatch {
  const started = Date.now();
  const seen: SeenViolation[] = [];
  let samples = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      const round = Date.now();
      const current = (await readState(tb.stateDir)) ?? tb;
      for (const v of findViolations(await sampleTestbed(current))) seen.push({ ...v, atMs: round - started });
      samples++;
      const wait = Math.max(0, intervalMs - (Date.now() - round));
      if (!stopped) await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, wait);
      });
    }
  })();
  return {
    get samples() {
      return samples;
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      return seen;
    },
  };
}
