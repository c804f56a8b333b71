/**
 * A node's hosted-engine score: ovirt-ha-agent's 3400 minus penalties. Pure:
 * the observations come in, the score and the penalties applied go out.
 *
 * | penalty     | points | when                                                        |
 * |-------------|--------|-------------------------------------------------------------|
 * | gateway     | 1600   | the gateway does not answer a ping                          |
 * | cpuLoad     | ≤ 1000 | 1-minute load per CPU above 0.4, full at 0.9 (linear)       |
 * | staleConfig | 1000   | the node cannot decide with the current shared configuration |
 * | bridge      | 600    | the management bridge is missing                            |
 * | freeMemory  | 400    | not enough free memory for the Manager VM (unless it runs here) |
 *
 * @packageDocumentation
 */

/** The best score. */
export const MAX_SCORE = 3400;

/** Penalty points (ovirt-hosted-engine-ha's defaults). */
export const PENALTIES = { gateway: 1600, cpuLoad: 1000, staleConfig: 1000, bridge: 600, freeMemory: 400 } as const;

/** Per-CPU load where the CPU penalty starts and where it is full. */
export const CPU_LOAD_MIN = 0.4;
export const CPU_LOAD_MAX = 0.9;

/** What a node observed about itself. */
export interface ScoreObservations {
  /** The gateway answered a ping. */
  gatewayReachable: boolean;
  /** 1-minute load average divided by the number of CPUs. */
  loadPerCpu: number;
  /** MemAvailable, MiB. */
  memAvailableMiB: number;
  /** The Manager VM's memory, MiB. */
  engineMemoryMiB: number;
  /** The Manager VM runs here (its memory is already taken, not needed again). */
  runsEngine: boolean;
  /** The management bridge exists. */
  bridgePresent: boolean;
  /** The node cannot read the current shared configuration (or only an older one). */
  configStale: boolean;
}

/** A score and the penalties that made it (only those applied). */
export interface Score {
  score: number;
  penalties: Record<string, number>;
}

/** The CPU load penalty: 0 up to {@link CPU_LOAD_MIN} per CPU, linear to the full penalty at {@link CPU_LOAD_MAX}. */
export function cpuLoadPenalty(loadPerCpu: number): number {
  if (!Number.isFinite(loadPerCpu) || loadPerCpu <= CPU_LOAD_MIN) return 0;
  const factor = Math.min(1, (loadPerCpu - CPU_LOAD_MIN) / (CPU_LOAD_MAX - CPU_LOAD_MIN));
  return Math.round(factor * PENALTIES.cpuLoad);
}

/** The score for `o`. Never below 0. */
export function computeScore(o: ScoreObservations): Score {
  const penalties: Record<string, number> = {};
  if (!o.gatewayReachable) penalties['gateway'] = PENALTIES.gateway;
  const cpu = cpuLoadPenalty(o.loadPerCpu);
  if (cpu > 0) penalties['cpuLoad'] = cpu;
  if (o.configStale) penalties['staleConfig'] = PENALTIES.staleConfig;
  if (!o.bridgePresent) penalties['bridge'] = PENALTIES.bridge;
  if (!o.runsEngine && o.memAvailableMiB < o.engineMemoryMiB) penalties['freeMemory'] = PENALTIES.freeMemory;
  const total = Object.values(penalties).reduce((a, b) => a + b, 0);
  return { score: Math.max(0, MAX_SCORE - total), penalties };
}
