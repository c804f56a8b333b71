/**
 * How long the simulated hypervisor takes per verb, and the scale factor
 * that stretches or removes those times.
 *
 * @packageDocumentation
 */

/** Milliseconds per verb, as the caller of a real libvirt driver waits them. */
export interface SimulatedLatencies {
  capabilities: number;
  list: number;
  get: number;
  define: number;
  start: number;
  /** The shutdown call itself (the request to the guest), not the guest powering off. */
  shutdown: number;
  destroy: number;
  suspend: number;
  resume: number;
  undefine: number;
  jobInfo: number;
  abortJob: number;
  /** From an ACPI shutdown request to the guest having powered off. */
  guestShutdown: number;
  /** From start until the guest reacts to ACPI (its acpid runs); earlier requests are ignored, as a real booting guest ignores them. */
  guestBoot: number;
  /** A live migration's fixed cost (connections, destination QEMU start, switch-over), beyond copying memory. */
  migrateSetup: number;
  /** From a state change until its lifecycle event reaches the events() consumer. */
  event: number;
}

/**
 * Measured on this project's test bed with `node dist/bench/driver-latency.js 8`
 * (src/bench/driver-latency.ts) on 2026-11-26T03:27Z (raw output:
 * docs/bench-results/driver-latency.json): two libvirtd 9.0 hosts
 * in namespaces, QEMU 7.2 under TCG, 2 × AMD EPYC shared with another test
 * run (so on the slow side). Each figure is the p50 of a LibvirtDriver verb as
 * its caller saw it (n = 8; 3 for the guest figures): most of it is virsh
 * itself, a process and a connection per call (~30 ms), which is exactly what
 * the agent pays. `list` is with 5 domains defined; `start` a firmware-only
 * domain; `guestBoot` (start until the guest answers HTTP) and
 * `guestShutdown` (ACPI request until shut off) the tiny Linux test guest's.
 * `migrateSetup` and {@link MEASURED_MIGRATION_MIBPS} split a live migration
 * of a 256 MiB guest (p50 2429 ms here) from the 96 MiB one of
 * docs/benchmarks.md (p50 1670 ms): ~1.2 s fixed plus ~210 MiB/s. `event`
 * was not measured on its own: in the driver integration test the `started`
 * and `stopped/destroyed` events reach the caller about when the verb
 * returns (-14 and -3 ms) and `defined` ~60 ms after, so 20 ms after the
 * simulated verb ends is an estimate; `abortJob` is taken as `jobInfo` (one
 * short virsh call each). The machine was busy (load average ~7 on two
 * cores); a quieter driver test run saw define 64 ms and start 489 ms, so
 * these defaults lean slow.
 */
export const MEASURED_LIBVIRT_LATENCIES: Readonly<SimulatedLatencies> = Object.freeze({
  capabilities: 110,
  list: 155,
  get: 180,
  define: 59,
  start: 907,
  shutdown: 53,
  destroy: 280,
  suspend: 66,
  resume: 76,
  undefine: 113,
  jobInfo: 48,
  abortJob: 48,
  guestShutdown: 505,
  guestBoot: 6400,
  migrateSetup: 1200,
  event: 20,
});

/**
 * Memory copy rate of an unthrottled live migration between two hosts of
 * the test bed, in MiB/s (see {@link MEASURED_LIBVIRT_LATENCIES} for where it
 * comes from).
 */
export const MEASURED_MIGRATION_MIBPS = 210;

/**
 * `base` with every figure multiplied by `scale`: 1 is real time, 0 makes
 * every verb answer at once (the contract tests), 0.1 a ten times faster
 * fleet. Negative or non-finite scales are refused.
 */
export function scaleLatencies(base: Readonly<SimulatedLatencies>, scale: number): SimulatedLatencies {
  if (!Number.isFinite(scale) || scale < 0) throw new RangeError(`latency scale must be a finite number ≥ 0, got ${scale}`);
  const out = { ...base };
  for (const key of Object.keys(out) as (keyof SimulatedLatencies)[]) out[key] = base[key] * scale;
  return out;
}
