/**
 * The hosted-engine HA timings. They live in the shared configuration on the
 * hosted-engine storage domain (set by `drover hosted-engine deploy`), so
 * every node decides with the same numbers.
 *
 * Why they are shorter than ovirt-ha-agent's (host alive 60 s, bad health
 * 300 s, starting 600 s): a start on the wrong node is harmless here. The
 * Manager VM carries a whole-VM lockd lease on shared storage, so a second
 * start while the first QEMU still runs is refused by libvirt, not merely
 * avoided by timing (docs/hosted-engine.md, "Timings"). The timeouts only
 * decide how soon a node tries, not whether trying is safe.
 *
 * @packageDocumentation
 */
import { z } from 'zod';

/** Every timing, in milliseconds (the migrate gap is score points). */
export const hostedEngineTimings = z.strictObject({
  /** How often each node writes its metadata (and decides). */
  metadataIntervalMs: z.int().min(200).max(60_000),
  /** A node whose metadata has not changed for this long is dead. */
  hostAliveTimeoutMs: z.int().min(1000).max(3_600_000),
  /** The running node stops the Manager VM after its health check failed this long. */
  badHealthTimeoutMs: z.int().min(1000).max(3_600_000),
  /** A started Manager VM must answer its health check within this long, else it is stopped. */
  startTimeoutMs: z.int().min(1000).max(7_200_000),
  /** How often every node checks the health URL. */
  healthCheckIntervalMs: z.int().min(200).max(60_000),
  /** A node whose score is this much below the best other live node's migrates the VM away. */
  migrateScoreGap: z.int().min(1).max(3400),
  /** After a refused start (the lease is held elsewhere), wait this long before trying again. */
  startRetryMs: z.int().min(200).max(600_000),
}).refine((t) => t.hostAliveTimeoutMs >= 3 * t.metadataIntervalMs, {
  message: 'hostAliveTimeoutMs must be at least three metadata intervals (one late write must not make a node dead)',
  path: ['hostAliveTimeoutMs'],
});

/** The timings. */
export type HostedEngineTimings = z.infer<typeof hostedEngineTimings>;

/**
 * Defaults, chosen for "node death → Manager VM healthy again" well inside
 * 60 s: death is seen after the host-alive timeout (10 s) plus at most one
 * metadata interval (2 s); then the start (~1 s) and the guest's boot.
 */
export const DEFAULT_TIMINGS: HostedEngineTimings = {
  metadataIntervalMs: 2000,
  hostAliveTimeoutMs: 10_000,
  badHealthTimeoutMs: 30_000,
  startTimeoutMs: 300_000,
  healthCheckIntervalMs: 2000,
  migrateScoreGap: 800,
  startRetryMs: 5000,
};

/**
 * How long a node stays in Initializing after its agent started before it
 * acts: two metadata intervals, so it has read every live node's metadata
 * at least once.
 */
export function initializingMs(t: HostedEngineTimings): number {
  return 2 * t.metadataIntervalMs;
}

/**
 * How long a node whose Manager VM died under it (EngineUnexpectedlyDown)
 * scores 0, so another node restarts it (ovirt-ha-agent does the same): the
 * host-alive timeout, long enough for every node to read the 0.
 */
export function unexpectedDownHoldMs(t: HostedEngineTimings): number {
  return t.hostAliveTimeoutMs;
}
