/**
 * The hosted-engine status (the agent API's `GET /v1/hosted-engine` and
 * `drover hosted-engine status`), pure: from the node records, their ages
 * and the global maintenance switch.
 *
 * @packageDocumentation
 */
import type { HostedEngineNode, HostedEngineStatus } from '../../api/agent/hosted-engine.js';
import type { NodeRecord } from './metadata.js';

/** What {@link buildStatus} reads. */
export interface StatusInput {
  storagePath: string;
  records: readonly NodeRecord[];
  /** Age of each record in ms (missing: not live). */
  ages: ReadonlyMap<string, number>;
  hostAliveTimeoutMs: number;
  globalMaintenance: boolean;
  readAt: Date;
}

/** The Manager VM's state in one word, from the node running it. */
function engineStateOf(host: NodeRecord | undefined, anyLive: boolean): string {
  if (host === undefined) return anyLive ? 'Down' : 'Unknown';
  if (host.state === 'EngineStart' || host.state === 'EngineStarting') return 'Starting';
  if (host.engineHealth === 'good') return 'Up';
  if (host.engineHealth === 'bad') return 'BadHealth';
  return 'Unknown';
}

/** The status every reader reports. */
export function buildStatus(input: StatusInput): HostedEngineStatus {
  const live = (r: NodeRecord) => {
    const age = input.ages.get(r.name);
    return age !== undefined && age < input.hostAliveTimeoutMs;
  };
  const nodes: HostedEngineNode[] = [...input.records]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((r) => ({
      name: r.name,
      score: r.score,
      state: r.state,
      lastUpdate: r.writtenAt,
      live: live(r),
      localMaintenance: r.localMaintenance,
      engineRunning: r.engineRunning,
      engineHealth: r.engineHealth,
      penalties: { ...r.penalties },
    }));
  const host = [...input.records].sort((a, b) => (a.name < b.name ? -1 : 1)).find((r) => live(r) && r.engineRunning);
  const status: HostedEngineStatus = {
    storagePath: input.storagePath,
    globalMaintenance: input.globalMaintenance,
    engineState: engineStateOf(host, input.records.some(live)),
    nodes,
    readAt: input.readAt.toISOString(),
  };
  if (host !== undefined) status.engineHost = host.name;
  return status;
}
