/**
 * The Manager in SelfHosted mode, as the operator sees it: the HA role on the
 * self-hosted engine nodes keeps the Manager VM alive without the operator
 * (it may be the VM being restarted), so the operator only observes the
 * shared HA metadata through one node's agent, reports it in
 * `status.hostedEngine`, and sets the maintenance mode the spec asks for.
 *
 * Everything here but {@link observeHostedEngine} and {@link applyMaintenance}
 * is pure.
 */
import type { HostedEngineMaintenanceRequest, HostedEngineStatus } from '../../api/agent/index.js';
import type { ManagerSpec, ManagerStatus } from '../../api/manager.js';
import type { KubeObject } from '../../kube/types.js';
import { matchesSelector } from '../../scheduler/selector.js';
import type { LabelSelector } from '../../api/index.js';
import type { OperatorContext } from '../context.js';
import { objectKey as keyOf } from '../../runtime/keys.js';

/** Nodes with a positive score needed for the Manager VM to be highly available. */
export const MIN_HOSTED_ENGINE_NODES = 2;

/**
 * A node's `lastUpdate` in status moves only when something else about the
 * node changed or it is older than this: the nodes rewrite their metadata
 * every few seconds, and copying each timestamp would make the Manager's
 * status churn in steady state.
 */
export const LAST_UPDATE_RESOLUTION_MS = 60_000;

type SelfHostedSpec = NonNullable<ManagerSpec['selfHosted']>;
type HostedEngineReport = NonNullable<ManagerStatus['hostedEngine']>;

/** The Hosts that are self-hosted engine nodes of this Manager, by name. */
export function hostedEngineNodes(hosts: readonly KubeObject[], selector: LabelSelector | undefined): string[] {
  return hosts
    .filter((h) => (h.spec as { selfHostedEngineNode?: boolean } | undefined)?.selfHostedEngineNode === true)
    .filter((h) => !h.metadata.deletionTimestamp)
    .filter((h) => matchesSelector(selector, h.metadata.labels))
    .map((h) => h.metadata.name)
    .sort();
}

/** What one look at the shared metadata gave. */
export type Observation =
  | { ok: true; via: string; status: HostedEngineStatus }
  | { ok: false; reason: 'NoNodes' | 'NoNodeReachable'; message: string };

/**
 * Reads the shared metadata through the first node whose agent answers;
 * the node that last answered is asked first, so a healthy setup costs one
 * call per look.
 */
export async function observeHostedEngine(
  ctx: Pick<OperatorContext, 'agents'>,
  namespace: string,
  nodes: readonly string[],
  preferred?: string,
): Promise<Observation> {
  if (nodes.length === 0) {
    return { ok: false, reason: 'NoNodes', message: 'no Host has spec.selfHostedEngineNode: true and matches spec.selfHosted.hostSelector' };
  }
  const order = preferred !== undefined && nodes.includes(preferred) ? [preferred, ...nodes.filter((n) => n !== preferred)] : [...nodes];
  const failures: string[] = [];
  for (const node of order) {
    const key = keyOf(namespace, node);
    const link = ctx.agents.link(key);
    const client = ctx.agents.client(key);
    if (!client || link?.state !== 'Connected') {
      failures.push(`${node}: agent ${link?.state ?? 'not linked'}`);
      continue;
    }
    try {
      return { ok: true, via: node, status: await client.hostedEngineStatus() };
    } catch (err) {
      failures.push(`${node}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { ok: false, reason: 'NoNodeReachable', message: `no self-hosted engine node answered: ${failures.join('; ')}` };
}

/** One maintenance change to make, on the node whose agent must make it. */
export interface MaintenanceChange {
  node: string;
  change: HostedEngineMaintenanceRequest;
}

/**
 * The changes that bring the shared metadata to the spec's maintenance mode.
 * The spec is authoritative while the Manager is up: a mode set from a
 * node's CLI while it was down is overwritten once the operator runs again.
 * Global maintenance can be set through any node; local maintenance only
 * through the node itself.
 */
export function maintenanceChanges(spec: SelfHostedSpec, observed: HostedEngineStatus, via: string, nodes: readonly string[]): MaintenanceChange[] {
  const changes: MaintenanceChange[] = [];
  const wantGlobal = spec.maintenance === 'Global';
  if (observed.globalMaintenance !== wantGlobal) changes.push({ node: via, change: { global: wantGlobal } });
  const wantLocal = new Set(spec.maintenance === 'Local' ? (spec.localMaintenanceHosts ?? []) : []);
  for (const node of nodes) {
    const seen = observed.nodes.find((n) => n.name === node);
    const isLocal = seen?.localMaintenance ?? false;
    if (isLocal !== wantLocal.has(node) && (seen !== undefined || wantLocal.has(node))) {
      changes.push({ node, change: { local: wantLocal.has(node) } });
    }
  }
  return changes;
}

/** Makes the changes; returns the ones that failed, for the condition. */
export async function applyMaintenance(
  ctx: Pick<OperatorContext, 'agents' | 'log'>,
  namespace: string,
  changes: readonly MaintenanceChange[],
): Promise<string[]> {
  const failed: string[] = [];
  for (const { node, change } of changes) {
    const key = keyOf(namespace, node);
    const client = ctx.agents.client(key);
    if (!client || ctx.agents.link(key)?.state !== 'Connected') {
      failed.push(`${node}: agent not connected`);
      continue;
    }
    try {
      await client.setHostedEngineMaintenance(change);
      ctx.log.info({ node, change }, 'Hosted-engine maintenance set');
    } catch (err) {
      failed.push(`${node}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed;
}

/** The maintenance mode in effect, in the spec's words. */
export function maintenanceInEffect(observed: HostedEngineStatus): 'None' | 'Global' | 'Local' {
  if (observed.globalMaintenance) return 'Global';
  return observed.nodes.some((n) => n.localMaintenance) ? 'Local' : 'None';
}

/**
 * `status.hostedEngine` from an observation, keeping each node's previous
 * `lastUpdate` while nothing else about it changed (see
 * {@link LAST_UPDATE_RESOLUTION_MS}).
 */
export function hostedEngineReport(observed: HostedEngineStatus, previous: HostedEngineReport | undefined): HostedEngineReport {
  const nodes = observed.nodes
    .map((n) => {
      const before = previous?.nodes?.find((p) => p.name === n.name);
      const same = before !== undefined && before.score === n.score && before.state === n.state && before.live === n.live;
      const recent =
        before?.lastUpdate !== undefined && Math.abs(Date.parse(n.lastUpdate) - Date.parse(before.lastUpdate)) < LAST_UPDATE_RESOLUTION_MS;
      return { name: n.name, score: n.score, state: n.state, live: n.live, lastUpdate: same && recent ? before.lastUpdate : n.lastUpdate };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    ...(observed.engineHost !== undefined ? { host: observed.engineHost } : {}),
    state: observed.engineState,
    maintenance: maintenanceInEffect(observed),
    nodes,
  };
}

/** A condition's status, reason and message. */
export type Verdict = [ok: boolean, reason: string, message: string];

/** HostedEngineHighlyAvailable: two or more live nodes with a positive score. */
export function hostedEngineAvailability(observation: Observation): Verdict {
  if (!observation.ok) return [false, observation.reason, observation.message];
  const able = observation.status.nodes.filter((n) => n.live && n.score > 0).map((n) => `${n.name} (${n.score})`);
  if (observation.status.globalMaintenance) {
    return [false, 'GlobalMaintenance', 'global maintenance is on: no node restarts the Manager VM'];
  }
  if (able.length < MIN_HOSTED_ENGINE_NODES) {
    return [
      false,
      'NotEnoughNodes',
      `${able.length} live node(s) with a positive score${able.length ? `: ${able.join(', ')}` : ''}; at least ${MIN_HOSTED_ENGINE_NODES} are needed`,
    ];
  }
  return [true, 'AsExpected', `${able.length} live nodes can run the Manager VM: ${able.join(', ')}`];
}

/** Ready of a self-hosted Manager: its VM runs and answers its health check. */
export function hostedEngineReadiness(observation: Observation): Verdict {
  if (!observation.ok) return [false, 'HostedEngineUnobservable', observation.message];
  const { engineState, engineHost } = observation.status;
  if (engineState === 'Up' && engineHost !== undefined) {
    return [true, 'HostedEngineUp', `the Manager VM runs on ${engineHost} and answers its health check`];
  }
  return [false, 'HostedEngineUnavailable', `the Manager VM is ${engineState}${engineHost ? ` on ${engineHost}` : ''}`];
}
