/**
 * The hosted-engine status read from the shared metadata alone, once (the
 * CLI's `status`, the benchmark): a node is live when it wrote within the
 * host-alive timeout by wall clock, since a one-shot reader cannot watch
 * records change as the agents do (liveness.ts).
 *
 * @packageDocumentation
 */
import type { HostedEngineStatus } from '../../api/agent/hosted-engine.js';
import { wallClockAge } from './liveness.js';
import { HostedEngineStore } from './metadata.js';
import { buildStatus } from './status.js';
import { DEFAULT_TIMINGS } from './timings.js';

/** The status from the shared metadata alone (wall-clock ages). */
export async function readStatus(storage: string): Promise<HostedEngineStatus> {
  const store = new HostedEngineStore(storage);
  const [config, records, global] = await Promise.all([store.readConfig(), store.readNodes(), store.readGlobalMaintenance()]);
  const now = new Date();
  return buildStatus({
    storagePath: storage,
    records,
    ages: new Map(records.map((r) => [r.name, wallClockAge(r, now)])),
    hostAliveTimeoutMs: config.ok ? config.config.timings.hostAliveTimeoutMs : DEFAULT_TIMINGS.hostAliveTimeoutMs,
    globalMaintenance: global ?? false,
    readAt: now,
  });
}

