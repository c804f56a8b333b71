/**
 * The benchmarks' double-run watch: samples every test host's libvirt and
 * QEMU processes (the same view as `drover check`) until stopped, and counts
 * the distinct domains ever seen running on two hosts at once.
 */
import { findViolations, sampleTestbed } from '../check/index.js';
import type { Testbed } from '../dev/testbed/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Samples `tb` about four times a second until `stop()`, which returns the sample count and distinct double runs. */
export function watchDoubleRuns(tb: Testbed): { stop(): Promise<{ samples: number; doubleRuns: number }> } {
  let stopped = false;
  let samples = 0;
  const seen = new Set<string>();
  const loop = (async () => {
    while (!stopped) {
      try {
        for (const v of findViolations(await sampleTestbed(tb))) seen.add(v.uuid);
        samples += 1;
      } catch {
        // a host being powered on answers nothing for a moment
      }
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { samples, doubleRuns: seen.size };
    },
  };
}
