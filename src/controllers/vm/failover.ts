/**
 * High availability: what happens to a VM whose host stopped answering.
 *
 * The one rule: a VM is started elsewhere only with proof that its old
 * instance no longer runs —
 * - `Fenced`: the host's fence agent confirmed it powered the host off
 *   during this outage (Host status.fencing);
 * - `LeaseFree`: the VM is guarded by storage leases (libvirt's lockd on
 *   both hosts, one lockspace on shared storage: the agent gives every
 *   domain a whole-VM lease, and every writable disk has its own), so a
 *   start elsewhere can only succeed once the old QEMU no longer holds them;
 *   the start itself is the test, and a `LeaseHeld` refusal leaves everything
 *   as it was. (sanlock is reported by agents, but they cannot observe its
 *   leases, so it is no proof here.)
 * Without proof the VM stays `Unknown` and says why (`FailoverBlocked`).
 *
 * HA VMs are restarted in `highAvailability.priority` order; non-HA VMs of a
 * fenced host become `Failed`. Pure decisions here; the executor is
 * {@link failOver}.
 */
import { AgentApiError, isActive } from '../../api/agent/index.js';
import { ConditionType, metaTime, Reason, type HostStatus, type VirtualMachineStatus } from '../../api/index.js';
import type { ReconcileResult } from '../../runtime/controller.js';
import { errorMessage } from '../../runtime/errors.js';
import { objectKey } from '../../runtime/keys.js';
import { schedule } from '../../scheduler/scheduler.js';
import type { OperatorContext } from '../context.js';
import { linkKnowsVms, managerSettings } from '../namespace.js';
import { runtimeSpecHash, toAgentSpec } from './agent-spec.js';
import { hostedEngineReservation, hostViews, schedulingPolicy, vmRequest } from './placement.js';
import { start } from './start.js';
import { commit, dropCond, setCond, setPhase, type Work } from './work.js';

/** Re-check delay while a failover waits for time, proof or a higher-priority VM. */
const FAILOVER_POLL_MS = 1_000;
/** Re-check delay after a failover was refused (lease held, no host). */
const BLOCKED_RETRY_MS = 5_000;

/** Lease managers whose leases make a successful start a proof. */
const LEASE_MANAGERS = new Set(['lockd']);

/** What is known about the silent host. */
export interface SilentHost {
  name: string;
  /** How long it has not answered, ms. */
  silentForMs: number;
  phase: string | undefined;
  fencing: HostStatus['fencing'];
  /** Its lock manager and lockspace, from its last capabilities. */
  leaseManager: string | undefined;
  leaseLockspace?: string | undefined;
}

/** The verdict on restarting a VM elsewhere. */
export type FailoverVerdict =
  | { kind: 'proof'; proof: 'Fenced' | 'LeaseFree' }
  | { kind: 'wait'; message: string; recheckMs: number }
  | { kind: 'blocked'; reason: string; message: string };

/** Decides whether (and with which proof) a VM of `host` may start elsewhere. */
export function failoverVerdict(host: SilentHost, leaseFailoverAfterMs: number): FailoverVerdict {
  if (host.fencing?.state === 'Fenced') return { kind: 'proof', proof: 'Fenced' };
  const leased = host.leaseManager !== undefined && LEASE_MANAGERS.has(host.leaseManager);
  if (leased) {
    const left = leaseFailoverAfterMs - host.silentForMs;
    if (left > 0) return { kind: 'wait', message: `host ${host.name} silent for ${Math.round(host.silentForMs / 1000)} s; trying elsewhere (storage lease) after ${leaseFailoverAfterMs / 1000} s`, recheckMs: Math.min(left + 50, 5_000) };
    return { kind: 'proof', proof: 'LeaseFree' };
  }
  const why = `host ${host.name} has no storage leases Drover can rely on (lock manager: ${host.leaseManager ?? 'unknown'})`;
  if (host.phase !== 'NonResponsive') {
    return { kind: 'wait', message: `host ${host.name} is not answering; waiting for it to be NonResponsive and fenced (${why})`, recheckMs: 2_000 };
  }
  switch (host.fencing?.state) {
    case 'Failed':
      return { kind: 'blocked', reason: Reason.FencingFailed, message: `fencing host ${host.name} failed (${host.fencing.message ?? 'no detail'}) and ${why}` };
    case 'Skipped':
      return { kind: 'blocked', reason: Reason.FencingFailed, message: `host ${host.name} is not fenced: ${host.fencing.message ?? host.fencing.reason ?? 'skipped'}; and ${why}` };
    default:
      return { kind: 'wait', message: `waiting for host ${host.name} to be fenced (${why})`, recheckMs: 2_000 };
  }
}

/** The silent host as the caches and links know it. */
export function silentHost(ctx: OperatorContext, namespace: string | undefined, name: string): SilentHost {
  const object = ctx.informers.hosts.get(objectKey(namespace, name));
  const status = (object?.status ?? {}) as HostStatus;
  const link = ctx.agents.link(objectKey(namespace, name));
  const last = link?.lastHeartbeat?.getTime() ?? (status.lastHeartbeatTime ? Date.parse(status.lastHeartbeatTime) : undefined);
  const leases = link?.capabilities?.leases;
  return {
    name,
    silentForMs: last === undefined ? Number.POSITIVE_INFINITY : Math.max(0, ctx.now().getTime() - last),
    phase: status.phase,
    fencing: status.fencing,
    leaseManager: leases?.manager,
    leaseLockspace: leases?.lockspace,
  };
}

/** Higher-priority HA VMs of the same failed host still waiting for their restart. */
function higherPriorityWaiting(ctx: OperatorContext, w: Work, fromHost: string): string[] {
  const mine = w.vm.spec.highAvailability.priority;
  return ctx.informers.virtualMachines
    .list(w.object.metadata.namespace)
    .filter((o) => o.metadata.uid !== w.uid)
    .filter((o) => {
      const spec = o.spec as { highAvailability?: { enabled?: boolean; priority?: number } } | undefined;
      const s = (o.status ?? {}) as VirtualMachineStatus;
      if (!spec?.highAvailability?.enabled || (spec.highAvailability.priority ?? 50) <= mine) return false;
      const waitsOnHost = s.host === fromHost || (s.failover?.fromHost === fromHost && s.phase !== 'Running');
      const blocked = s.conditions?.some((c) => c.type === ConditionType.FailoverBlocked && c.status === 'True');
      return waitsOnHost && s.phase === 'Unknown' && !blocked;
    })
    .map((o) => o.metadata.name)
    .sort();
}

/** Where to restart: a schedulable host other than the failed one (with the same lease manager when the lease is the proof). */
function chooseTarget(ctx: OperatorContext, w: Work, from: SilentHost, proof: 'Fenced' | 'LeaseFree'): { host: string } | { reason: string; message: string } {
  const namespace = w.object.metadata.namespace;
  const hosts = ctx.informers.hosts.list(namespace).filter((h) => {
    if (h.metadata.name === from.name) return false;
    if (proof !== 'LeaseFree') return true;
    const leases = ctx.agents.link(objectKey(namespace, h.metadata.name))?.capabilities?.leases;
    return leases?.manager === from.leaseManager && leases?.lockspace === from.leaseLockspace;
  });
  const others = ctx.informers.virtualMachines.list(namespace).filter((v) => v.metadata.uid !== w.uid);
  const result = schedule(vmRequest(w.vm), hostViews(hosts, others, w.placements, hostedEngineReservation(ctx.informers.managers.list(namespace))), schedulingPolicy(ctx.informers.managers.list(namespace)));
  if (result.ok) return { host: result.host };
  const reasons = Object.values(result.rejected);
  const storageOnly = reasons.length > 0 && reasons.every((r) => r.includes('storage domain') || r.startsWith('host is '));
  const anyStorage = reasons.some((r) => r.includes('storage domain'));
  return {
    reason: storageOnly && anyStorage ? Reason.StorageUnreachable : Reason.NoCapacity,
    message: `no other host can run it: ${result.message}`,
  };
}

function blocked(w: Work, host: string, reason: string, message: string): ReconcileResult {
  setCond(w, ConditionType.FailoverBlocked, true, reason, message);
  setPhase(w, 'Unknown', false, reason, `host ${host} is not answering; ${message}`);
  return { requeueAfter: BLOCKED_RETRY_MS };
}

/**
 * Handles a VM whose host (`fromHost`: its placement, or the source of a
 * failover in progress) is silent and no answering host runs it.
 */
export async function failOver(w: Work, want: boolean | 'unmanaged', fromHost: string): Promise<ReconcileResult | void> {
  const { ctx, object, vm, uid } = w;
  const namespace = object.metadata.namespace;
  const from = silentHost(ctx, namespace, fromHost);
  const settings = managerSettings(ctx, namespace);

  if (!vm.spec.highAvailability.enabled || want !== true) {
    if (from.fencing?.state === 'Fenced' && w.previous.phase !== 'Stopped') {
      if (w.previous.phase !== 'Failed') ctx.events.event(object, 'Warning', 'HostFailed', `host ${fromHost} was fenced; the VM is not highly available and is not restarted elsewhere`);
      w.status.lastStopReason = 'HostFailure';
      setPhase(w, 'Failed', false, 'HostFailed', `host ${fromHost} failed and was fenced; ${want === true ? 'not highly available, so not restarted elsewhere' : `runStrategy ${vm.spec.runStrategy}`}`);
      return;
    }
    if (w.previous.phase !== 'Stopped' && w.previous.phase !== 'Failed') {
      setPhase(w, 'Unknown', false, 'HostNotResponding', `host ${fromHost} is not answering${want === true ? '; the VM is not highly available' : ''}`);
    }
    return { requeueAfter: 2_000 };
  }

  const verdict = failoverVerdict(from, settings.availability.leaseFailoverAfterSeconds * 1000);
  if (verdict.kind === 'wait') {
    setPhase(w, 'Unknown', false, 'HostNotResponding', verdict.message);
    return { requeueAfter: verdict.recheckMs };
  }
  if (verdict.kind === 'blocked') return blocked(w, fromHost, verdict.reason, verdict.message);

  // After a refusal on the lease, wait before testing it again (the target's
  // events about the refused domain would otherwise re-run this at once).
  // A fence is proof enough: it does not wait for the lease's next test.
  const notBefore = w.failoverNotBefore.get(uid) ?? 0;
  if (verdict.proof === 'LeaseFree' && notBefore > ctx.now().getTime()) return { requeueAfter: notBefore - ctx.now().getTime() };

  const ahead = higherPriorityWaiting(ctx, w, fromHost);
  if (ahead.length > 0) {
    setPhase(w, 'Unknown', false, 'HostNotResponding', `host ${fromHost} failed; restarting higher-priority VMs first: ${ahead.join(', ')}`);
    return { requeueAfter: FAILOVER_POLL_MS };
  }

  // Resume an attempt on its target (a restart of the operator mid-way), else pick one.
  let target = w.status.failover?.fromHost === fromHost ? w.status.failover.toHost : undefined;
  if (target === undefined || ctx.agents.link(objectKey(namespace, target))?.state !== 'Connected') {
    const choice = chooseTarget(ctx, w, from, verdict.proof);
    if ('reason' in choice) return blocked(w, fromHost, choice.reason, choice.message);
    target = choice.host;
  }
  const targetKey = objectKey(namespace, target);
  const client = ctx.agents.client(targetKey);
  const link = ctx.agents.link(targetKey);
  if (!client || !linkKnowsVms(link)) return { requeueAfter: FAILOVER_POLL_MS };

  // Recorded before anything happens on the target, so a restart of the
  // operator finds the attempt (and the old host stays a suspect).
  w.status.failover = {
    fromHost,
    toHost: target,
    startTime: w.status.failover?.fromHost === fromHost ? w.status.failover.startTime : metaTime(ctx.now()),
    attempts: (w.status.failover?.attempts ?? 0) + 1,
    proof: verdict.proof,
  };
  w.status.host = target;
  w.placements.set(uid, target);
  setPhase(w, 'Starting', false, 'FailingOver', `host ${fromHost} failed (${verdict.proof === 'Fenced' ? 'fenced' : 'storage lease to be taken over'}); starting on ${target}`);
  await commit(w);

  const spec = toAgentSpec(vm, uid, object.metadata.generation ?? 0);
  try {
    const existing = link.vms.find((d) => d.uid === uid);
    if (existing && isActive(existing)) {
      setPhase(w, 'Running', true, 'Running', `running on ${target}`);
    } else {
      await start(w, target, client, spec, runtimeSpecHash(spec));
    }
  } catch (error) {
    if (error instanceof AgentApiError && error.reason === 'LeaseHeld') {
      // The old instance still holds its disks: it runs. Leave no definition behind here.
      await client.undefineVm(uid).catch(() => undefined);
      // Awaited: the next pass must not see the refused (briefly paused) QEMU as the VM running there.
      await ctx.agents.refresh(targetKey);
      w.status.host = fromHost;
      w.placements.set(uid, fromHost);
      w.status.failover = { ...w.status.failover, toHost: undefined } as NonNullable<VirtualMachineStatus['failover']>;
      delete w.status.failover.toHost;
      if (w.previous.conditions?.find((c) => c.type === ConditionType.FailoverBlocked)?.reason !== Reason.LeaseHeld) {
        ctx.events.event(object, 'Warning', 'FailoverBlocked', `not restarted on ${target}: its storage lease is held (the VM still runs on ${fromHost})`);
      }
      w.failoverNotBefore.set(uid, ctx.now().getTime() + BLOCKED_RETRY_MS);
      return blocked(w, fromHost, Reason.LeaseHeld, `its storage lease is still held (the VM still runs on ${fromHost}, cut off from the operator): ${error.message}`);
    }
    ctx.log.warn({ vm: object.metadata.name, target, err: errorMessage(error) }, 'failover start failed');
    throw error;
  }
  w.failoverNotBefore.delete(uid);
  dropCond(w, ConditionType.FailoverBlocked);
  ctx.events.event(object, 'Warning', 'FailedOver', `restarted on ${target} after host ${fromHost} failed (proof: ${verdict.proof})`);
  delete w.status.failover;
  w.status.lastStopReason = undefined;
  delete w.status.lastStopReason;
}

/** Whether any answering host runs the domain now. */
export function runsOnAnsweringHost(ctx: OperatorContext, namespace: string | undefined, holders: string[], uid: string): string | undefined {
  return holders.find((h) => {
    const link = ctx.agents.link(objectKey(namespace, h));
    return linkKnowsVms(link) && link.vms.some((d) => d.uid === uid && isActive(d));
  });
}
