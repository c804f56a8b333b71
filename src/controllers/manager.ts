/**
 * Manager reconciler: validates the Manager and aggregates the environment in
 * its namespace into status — host, storage and VM counts, and whether VMs can
 * be highly available (at least two Up hosts that all reach an Active Data
 * storage domain), with a reason when not. In SelfHosted mode it also
 * reports the hosted-engine HA metadata and sets its maintenance mode
 * (./manager/hosted-engine.ts), looking again every heartbeat interval.
 */
import {
  ConditionType,
  managerObject,
  Reason,
  setCondition,
  type Condition,
  type ManagerStatus,
} from '../api/index.js';
import type { Reconciler, ReconcileResult } from '../runtime/controller.js';
import type { KubeObject } from '../kube/types.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { validateOrReport, withReady } from './common.js';
import type { OperatorContext } from './context.js';
import {
  applyMaintenance,
  hostedEngineAvailability,
  hostedEngineNodes,
  hostedEngineReadiness,
  hostedEngineReport,
  maintenanceChanges,
  observeHostedEngine,
  type Observation,
  type Verdict,
} from './manager/hosted-engine.js';
import { StatusCoalescer } from './coalesce.js';
import { quietOnStale } from './stale.js';

/** Hosts needed for VM high availability. */
export const MIN_HA_HOSTS = 2;

interface Summary {
  hostsTotal: number;
  hostsUp: string[];
  activeData: string[];
  storageTotal: number;
  /** Up hosts not connected to every Active Data domain. */
  unreachable: { host: string; domain: string }[];
  vmsTotal: number;
  vmsRunning: number;
}

type AnyStatus = { phase?: string; hosts?: { name: string; connected: boolean }[] };

/** Summarises the namespace from the informer caches. */
export function summarize(hosts: KubeObject[], domains: KubeObject[], vms: KubeObject[]): Summary {
  const hostsUp = hosts.filter((h) => (h.status as AnyStatus | undefined)?.phase === 'Up').map((h) => h.metadata.name).sort();
  const activeDataDomains = domains.filter(
    (d) => (d.status as AnyStatus | undefined)?.phase === 'Active' && ((d.spec as { role?: string } | undefined)?.role ?? 'Data') === 'Data',
  );
  const unreachable: Summary['unreachable'] = [];
  for (const domain of activeDataDomains) {
    const connected = new Set(((domain.status as AnyStatus).hosts ?? []).filter((h) => h.connected).map((h) => h.name));
    for (const host of hostsUp) if (!connected.has(host)) unreachable.push({ host, domain: domain.metadata.name });
  }
  return {
    hostsTotal: hosts.length,
    hostsUp,
    activeData: activeDataDomains.map((d) => d.metadata.name).sort(),
    storageTotal: domains.length,
    unreachable,
    vmsTotal: vms.length,
    vmsRunning: vms.filter((v) => (v.status as AnyStatus | undefined)?.phase === 'Running').length,
  };
}

/** StorageReachable and HighlyAvailable from a summary. */
export function availabilityConditions(s: Summary): { storage: [boolean, string, string]; ha: [boolean, string, string] } {
  let storage: [boolean, string, string];
  if (s.activeData.length === 0) {
    storage = [false, Reason.NoActiveDataDomain, 'no Data storage domain is Active'];
  } else if (s.unreachable.length > 0) {
    const detail = s.unreachable.map((u) => `${u.host} cannot reach ${u.domain}`).join(', ');
    storage = [false, Reason.HostsCannotReachStorage, detail];
  } else {
    storage = [true, Reason.AsExpected, `every Up host reaches ${s.activeData.join(', ')}`];
  }
  let ha: [boolean, string, string];
  if (s.hostsUp.length < MIN_HA_HOSTS) {
    ha = [false, Reason.NotEnoughHosts, `${s.hostsUp.length} of ${s.hostsTotal} hosts Up; at least ${MIN_HA_HOSTS} are needed`];
  } else if (!storage[0]) {
    ha = [false, storage[1], storage[2]];
  } else {
    ha = [true, Reason.AsExpected, `${s.hostsUp.length} hosts Up (${s.hostsUp.join(', ')}) reach Active Data storage`];
  }
  return { storage, ha };
}

/** Summary counts that move with every VM: written at most this often (conditions at once). */
const COUNTS_INTERVAL_MS = 2_000;
const COUNT_FIELDS = ['hosts', 'storageDomains', 'virtualMachines'] as const;

/** The Manager reconciler. */
export function managerReconciler(ctx: OperatorContext): Reconciler {
  // The last look at each Manager's hosted-engine metadata: reconciles caused
  // by host and VM changes (many in a burst) reuse it instead of calling an
  // agent each time; the periodic requeue and spec changes look again.
  const looks = new Map<string, { at: number; generation: number | undefined; observation: Observation }>();
  const coalescer = new StatusCoalescer();
  return quietOnStale(async (key): Promise<ReconcileResult | void> => {
    const object = ctx.informers.managers.get(key);
    if (!object) {
      looks.delete(key);
      coalescer.forget(key);
      return;
    }
    const manager = await validateOrReport(ctx, Resources.Manager, object, managerObject);
    if (!manager) return;
    const namespace = object.metadata.namespace;
    const generation = object.metadata.generation;
    const previous = (object.status ?? {}) as ManagerStatus;
    const now = ctx.now();
    let conditions: Condition[] | undefined = previous.conditions;

    const others = ctx.informers.managers
      .list(namespace)
      .filter((m) => m.metadata.uid !== object.metadata.uid)
      .filter((m) => olderThan(m, object));
    const summary = summarize(
      ctx.informers.hosts.list(namespace),
      ctx.informers.storageDomains.list(namespace),
      ctx.informers.virtualMachines.list(namespace),
    );
    const { storage, ha } = availabilityConditions(summary);
    const set = (type: string, [ok, reason, message]: [boolean, string, string]) => {
      conditions = setCondition(conditions, { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: generation }, now);
    };
    set(ConditionType.StorageReachable, storage);
    set(ConditionType.HighlyAvailable, ha);
    let hostedEngine: ManagerStatus['hostedEngine'] = previous.hostedEngine;
    let requeueAfter: number | undefined;
    const selfHosted = others.length === 0 && manager.spec.mode === 'SelfHosted' ? manager.spec.selfHosted : undefined;
    if (others.length > 0) {
      conditions = withReady(ctx, object, conditions, false, 'DuplicateManager', `Manager ${others[0]!.metadata.name} already manages namespace ${namespace}; only one Manager per namespace is allowed`);
    } else if (selfHosted) {
      // The nodes act on their own; the operator looks every heartbeat interval.
      requeueAfter = manager.spec.availability.heartbeatIntervalSeconds * 1000;
      const nodes = hostedEngineNodes(ctx.informers.hosts.list(namespace), selfHosted.hostSelector);
      const intervalMs = requeueAfter;
      const last = looks.get(key);
      const fresh = last !== undefined && last.generation === generation && ctx.now().getTime() - last.at < intervalMs / 2;
      const observation = fresh ? last.observation : await observeHostedEngine(ctx, namespace ?? 'default', nodes, previous.hostedEngine?.host);
      if (!fresh) looks.set(key, { at: ctx.now().getTime(), generation, observation });
      let applied: Verdict = [false, observation.ok ? '' : observation.reason, observation.ok ? '' : observation.message];
      if (observation.ok) {
        hostedEngine = hostedEngineReport(observation.status, previous.hostedEngine);
        const changes = maintenanceChanges(selfHosted, observation.status, observation.via, nodes);
        const failed = changes.length > 0 ? await applyMaintenance(ctx, namespace ?? 'default', changes) : [];
        applied =
          changes.length === 0
            ? [true, 'AsExpected', `maintenance ${selfHosted.maintenance} is in effect`]
            : failed.length > 0
              ? [false, 'MaintenanceFailed', `could not set maintenance ${selfHosted.maintenance}: ${failed.join('; ')}`]
              : [false, 'MaintenancePending', `maintenance ${selfHosted.maintenance} requested on ${changes.map((c) => c.node).join(', ')}`];
        if (changes.length > 0) {
          looks.delete(key); // look again after changing it
          if (failed.length === 0) requeueAfter = Math.min(requeueAfter, 1000);
        }
      }
      set(ConditionType.HostedEngineHighlyAvailable, hostedEngineAvailability(observation));
      set(ConditionType.HostedEngineMaintenanceApplied, applied);
      const [ready, reason, message] = hostedEngineReadiness(observation);
      conditions = withReady(ctx, object, conditions, ready, reason, message);
    } else {
      conditions = withReady(ctx, object, conditions, true, Reason.Reconciled, 'the Manager is reconciling this namespace');
    }
    // The real Manager of the namespace owns its CA (created once, kept in a Secret).
    const ca = others.length === 0 ? await ctx.pki.ensureCa(namespace ?? 'default', object.metadata.name) : undefined;
    const status: ManagerStatus = {
      ...previous,
      ...(ca ? { pki: { caSecretName: ca.secretName, caCertHash: ca.caCertHash, caNotAfter: ca.notAfter } } : {}),
      observedGeneration: generation,
      conditions,
      hosts: { total: summary.hostsTotal, up: summary.hostsUp.length },
      storageDomains: { total: summary.storageTotal, active: summary.activeData.length },
      virtualMachines: { total: summary.vmsTotal, running: summary.vmsRunning },
      ...(hostedEngine !== undefined ? { hostedEngine } : {}),
    };
    if (!selfHosted) {
      delete status.hostedEngine;
      conditions = conditions?.filter(
        (c) => c.type !== ConditionType.HostedEngineHighlyAvailable && c.type !== ConditionType.HostedEngineMaintenanceApplied,
      );
      status.conditions = conditions;
    }
    const hold = coalescer.holdBack(key, previous, status, COUNT_FIELDS, COUNTS_INTERVAL_MS, now.getTime());
    if (hold > 0) return { requeueAfter: requeueAfter !== undefined ? Math.min(hold, requeueAfter) : hold };
    if (await writeStatusIfChanged(ctx.client, Resources.Manager, object, status)) {
      coalescer.wrote(key, now.getTime());
      const wasHA = previous.conditions?.find((c) => c.type === ConditionType.HighlyAvailable)?.status;
      if (wasHA !== undefined && wasHA !== (ha[0] ? 'True' : 'False')) {
        ctx.events.event(object, ha[0] ? 'Normal' : 'Warning', ha[1], `HighlyAvailable is now ${ha[0]}: ${ha[2]}`);
      }
      hostedEngineEvents(ctx, object, previous, status);
    }
    return requeueAfter !== undefined ? { requeueAfter } : undefined;
  });
}

/** Creation order (then name) decides which of two Managers in a namespace is the real one. */
function olderThan(a: KubeObject, b: KubeObject): boolean {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return ta < tb || (ta === tb && a.metadata.name < b.metadata.name);
}

/** Events for the hosted-engine transitions people look for in `kubectl describe`. */
function hostedEngineEvents(ctx: OperatorContext, object: KubeObject, previous: ManagerStatus, next: ManagerStatus): void {
  const before = previous.hostedEngine;
  const after = next.hostedEngine;
  if (!after) return;
  if (before?.host !== after.host) {
    if (after.host) ctx.events.event(object, 'Normal', 'HostedEngineMoved', `the Manager VM runs on ${after.host}${before?.host ? ` (was ${before.host})` : ''}`);
    else ctx.events.event(object, 'Warning', 'HostedEngineDown', `the Manager VM runs nowhere (was on ${before?.host})`);
  }
  if (before?.maintenance !== undefined && before.maintenance !== after.maintenance && after.maintenance !== undefined) {
    ctx.events.event(object, 'Normal', 'HostedEngineMaintenance', `hosted-engine maintenance is now ${after.maintenance}`);
  }
  const was = previous.conditions?.find((c) => c.type === ConditionType.HostedEngineHighlyAvailable);
  const now = next.conditions?.find((c) => c.type === ConditionType.HostedEngineHighlyAvailable);
  if (was && now && was.status !== now.status) {
    ctx.events.event(object, now.status === 'True' ? 'Normal' : 'Warning', now.reason, `HostedEngineHighlyAvailable is now ${now.status}: ${now.message}`);
  }
}
