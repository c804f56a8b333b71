/**
 * VirtualMachine reconciler: places the VM (scheduler), creates its disks,
 * defines and starts it on the chosen host through the host's agent, and
 * keeps it in the state its runStrategy asks for, KubeVirt's way:
 * `Always` restarts after any stop, `RerunOnFailure` only after a failure,
 * `Manual` never starts or stops it on its own, `Halted` keeps it off.
 *
 * Never twice: placement (`status.host`) is written before the domain is
 * defined, a domain is only started where the agents' lists say it runs
 * nowhere else, and while a placed host cannot be reached the VM is
 * `Unknown` and left alone (moving it is fencing's job).
 *
 * Ready means "the VM is in the state its runStrategy asks for".
 */
import { AgentApiError, isActive, MAX_STOP_TIMEOUT_SECONDS, type VmInfo } from '../api/agent/index.js';
import type { KubeObject } from '../kube/types.js';
import { ConditionType, Reason, virtualMachineObject, type VirtualMachine, type VirtualMachineStatus, type VMPhase } from '../api/index.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import { KeyedSemaphore } from '../runtime/keyed-semaphore.js';
import { objectKey } from '../runtime/keys.js';
import { FINALIZER, Resources } from '../operator/resources.js';
import { schedule } from '../scheduler/scheduler.js';
import { isDeleting, validateOrReport } from './common.js';
import type { OperatorContext } from './context.js';
import { linkForming, linkKnowsVms } from './namespace.js';
import { diskVolumes, runtimeSpecHash, toAgentSpec } from './vm/agent-spec.js';
import { hostedEngineReservation, hostViews, schedulingPolicy, vmRequest } from './vm/placement.js';
import { activeMigrationFor } from './vm/migrations.js';
import { whereabouts } from './vm/whereabouts.js';
import { deleteVirtualMachine } from './vm/deletion.js';
import { failOver, runsOnAnsweringHost } from './vm/failover.js';
import { isStorageErrorPause, storageErrorPause } from './vm/storage-error.js';
import { applyStartOutcome, BackgroundStarts, start, START_CONFIRM_MS, startInBackground } from './vm/start.js';
import { commit, dropCond, setCond, setPhase, type Work } from './vm/work.js';
import { quietOnStale } from './stale.js';

/** Retry delay after the agent refused a request (4xx): the spec or the host must change first. */
const REFUSED_RETRY_MS = 30_000;
/** Re-check delay while waiting on something no event announces. */
const POLL_MS = 2_000;
/** Re-check delay of a VM no host can take. */
const PENDING_RETRY_MS = 30_000;

/** libvirt shut-off reasons that are not failures. */
const CLEAN_STOP_REASONS = new Set(['shutdown', 'destroyed', 'saved', 'migrated', 'from-snapshot']);


/** Why a shut-off domain stopped, as status.lastStopReason says it. */
export function stopReasonOf(domain: VmInfo): 'Shutdown' | 'Failed' {
  return CLEAN_STOP_REASONS.has(domain.reason ?? '') ? 'Shutdown' : 'Failed';
}

/** Whether the VM should be running now, given its strategy and how it last stopped. */
export function wantsRunning(vm: VirtualMachine, previous: VirtualMachineStatus): boolean | 'unmanaged' {
  switch (vm.spec.runStrategy) {
    case 'Halted':
      return false;
    case 'Always':
      return true;
    case 'RerunOnFailure':
      return previous.lastStopReason !== 'Shutdown';
    case 'Manual':
      return 'unmanaged';
  }
}

/** Options of {@link virtualMachineReconciler}. */
export interface VirtualMachineReconcilerOptions {
  /**
   * How many VMs one host is asked to create disks for, define and start at
   * the same time (default {@link DEFAULT_HOST_START_CONCURRENCY}); the
   * others wait in the operator, holding no agent connection.
   */
  hostStartConcurrency?: number;
  /**
   * The VM starts and their per-host slots (default: a new set with
   * {@link hostStartConcurrency} slots per host, awaited in the reconcile).
   * The controller wiring passes one that runs starts in the background and
   * sets its `wake` to the controller's enqueue, so a finished start
   * reconciles the VM again.
   */
  starts?: BackgroundStarts;
}

/** Default of {@link VirtualMachineReconcilerOptions.hostStartConcurrency}. */
export const DEFAULT_HOST_START_CONCURRENCY = 4;

/** Default bound of the starts on all hosts together (the operator's `--start-concurrency`). */
export const DEFAULT_START_CONCURRENCY = 32;

/** The VirtualMachine reconciler. */
export function virtualMachineReconciler(ctx: OperatorContext, options: VirtualMachineReconcilerOptions = {}): Reconciler {
  const placements = new Map<string, string>();
  const failoverNotBefore = new Map<string, number>();
  const starts = options.starts ?? new BackgroundStarts(new KeyedSemaphore(options.hostStartConcurrency ?? DEFAULT_HOST_START_CONCURRENCY));
  return quietOnStale(async (key) => {
    const object = ctx.informers.virtualMachines.get(key);
    if (!object) return;
    const uid = object.metadata.uid ?? '';
    if (isDeleting(object)) {
      // A start still running could define the domain after the deletion looked: wait for its end (which wakes the VM).
      if (starts.busy(uid)) return;
      placements.delete(uid);
      return deleteVirtualMachine(ctx, object, starts);
    }
    const vm = await validateOrReport(ctx, Resources.VirtualMachine, object, virtualMachineObject);
    if (!vm) return;
    // Going on right after adding the finalizer saves a trip through the work
    // queue; the pass carries on with the finalizer write's resourceVersion,
    // which its (guarded) status write needs.
    // (Not in parallel with the placement write: both carry the resourceVersion.)
    // (A 409 here or at any status write is a cache behind our own write: quietOnStale looks again shortly.)
    let current = object;
    if (!(object.metadata.finalizers ?? []).includes(FINALIZER)) {
      const written = await ctx.client.setFinalizers(Resources.VirtualMachine, object, [...(object.metadata.finalizers ?? []), FINALIZER]);
      current = { ...object, metadata: { ...object.metadata, finalizers: written.metadata.finalizers, resourceVersion: written.metadata.resourceVersion } };
    }
    const previous = (object.status ?? {}) as VirtualMachineStatus;
    // A start in flight owns the VM until it ends; its end enqueues the VM again.
    if (starts.busy(uid)) return;
    const w: Work = {
      ctx,
      starts,
      placements,
      failoverNotBefore,
      object: current,
      vm,
      uid,
      previous,
      status: { ...structuredClone(previous), observedGeneration: object.metadata.generation, domainUUID: object.metadata.uid },
    };
    let result: ReconcileResult | void;
    try {
      result = await converge(w);
    } catch (error) {
      if (error instanceof AgentApiError && error.status >= 400 && error.status < 500) {
        // The agent refused: say why, and try again later rather than hammering it.
        // The phase follows the domain as last seen: Failed only when nothing runs.
        const link = w.status.host ? ctx.agents.link(objectKey(object.metadata.namespace, w.status.host)) : undefined;
        const domain = link?.vms?.find((d) => d.uid === w.uid);
        const phase: VMPhase = domain && isActive(domain) ? (domain.state === 'paused' ? 'Paused' : 'Running') : 'Failed';
        const before = w.previous.conditions?.find((c) => c.type === ConditionType.Ready);
        setPhase(w, phase, false, error.reason, `host ${w.status.host ?? '?'}: ${error.message}`);
        await commit(w);
        if (before?.reason !== error.reason) ctx.events.event(object, 'Warning', error.reason, error.message);
        return { requeueAfter: REFUSED_RETRY_MS };
      }
      throw error;
    }
    await commit(w);
    return result;
  });
}

/** One pass of the state machine; leaves the status to write in `w.status`. */
async function converge(w: Work): Promise<ReconcileResult | void> {
  const { ctx, object, vm } = w;
  const namespace = object.metadata.namespace;
  const want = wantsRunning(vm, w.previous);

  // A live migration owns the VM while it runs (the incoming domain on the target is expected).
  const migration = activeMigrationFor(ctx, namespace, vm.metadata.name);
  if (migration) {
    w.status.migration = migration;
    setPhase(w, 'Migrating', true, 'Migrating', `live-migrating from ${migration.sourceHost} to ${migration.targetHost}`);
    return;
  }
  delete w.status.migration;

  // A new leader's link to the VM's host is still forming (its first connection and
  // list have not happened): that is no silence. Without this, a leader that just took
  // over marked every placed VM Unknown and then Running again (two writes and two
  // Events per VM); the link's first list enqueues the VM.
  if (linkForming(ctx, namespace, w.status.host)) return { requeueAfter: POLL_MS };

  // Where does the domain actually exist? The agents' lists are the truth;
  // a placement this process made but the cache doesn't show yet counts too.
  const placedOn = w.status.host ?? w.placements.get(w.uid);
  const failoverFrom = w.status.failover?.fromHost;
  const where = whereabouts(ctx, namespace, vm.metadata.name, w.uid, placedOn, failoverFrom);
  const running = runsOnAnsweringHost(ctx, namespace, where.holders, w.uid);
  if (where.holders.length > 1) {
    const removed = running !== undefined ? await removeStaleDefinitions(w, where.holders, running) : [];
    if (removed.length === 0 || removed.length !== where.holders.length - 1) {
      const names = where.holders.join(', ');
      setPhase(w, 'Unknown', false, 'DefinedOnSeveralHosts', `the domain is defined on ${names}; nothing is started until one is removed`);
      return { requeueAfter: POLL_MS };
    }
    where.holders = [running!];
  }
  // Its host (or the host a failover started from) is silent and no answering host runs it: high availability decides.
  const suspect = [failoverFrom, placedOn].find((h) => h !== undefined && where.unsure.includes(h));
  if (suspect !== undefined && running === undefined) return failOver(w, want, suspect);
  if (running !== undefined && w.status.failover) {
    // The failover target runs it (adopted below): the attempt is over.
    delete w.status.failover;
    dropCond(w, ConditionType.FailoverBlocked);
  }
  if (where.unsure.length > 0 && where.holders.length === 0) {
    // It may run on a host that can't say: acting now could run it twice.
    if (w.previous.phase !== 'Stopped' && w.previous.phase !== 'Failed' && w.previous.phase !== 'Pending') {
      setPhase(w, 'Unknown', false, 'HostNotResponding', `cannot confirm where the VM runs: ${where.unsure.join(', ')} not answering`);
    }
    return { requeueAfter: POLL_MS };
  }

  // Adopt where the domain is when that's not where status says (a finished migration, a restart mid-way).
  const holder = where.holders[0];
  if (holder !== undefined && holder !== w.status.host) {
    const from = w.status.host;
    w.status.host = holder;
    if (from) ctx.events.event(object, 'Normal', 'Relocated', `VM now runs on ${holder} (was ${from})`);
  } else if (w.status.host === undefined && placedOn !== undefined) {
    w.status.host = placedOn;
  }

  if (w.status.host === undefined) return place(w, want);
  return onHost(w, want, w.status.host);
}

/** The VM is not placed: schedule it if it should run. */
async function place(w: Work, want: boolean | 'unmanaged'): Promise<ReconcileResult | void> {
  const { ctx, object, vm } = w;
  const namespace = object.metadata.namespace;
  if (want !== true) {
    dropCond(w, ConditionType.Scheduled);
    const halted = vm.spec.runStrategy === 'Halted';
    setPhase(w, 'Stopped', true, halted ? 'Halted' : vm.spec.runStrategy, halted ? 'runStrategy Halted: the VM is kept off' : `runStrategy ${vm.spec.runStrategy}: the VM stays stopped`);
    return;
  }
  const others = ctx.informers.virtualMachines.list(namespace).filter((v) => v.metadata.uid !== object.metadata.uid);
  const result = schedule(vmRequest(vm), hostViews(ctx.informers.hosts.list(namespace), others, w.placements, hostedEngineReservation(ctx.informers.managers.list(namespace))), schedulingPolicy(ctx.informers.managers.list(namespace)));
  if (!result.ok) {
    setCond(w, ConditionType.Scheduled, false, Reason.NoHostAvailable, result.message);
    setPhase(w, 'Pending', false, Reason.NoHostAvailable, result.message);
    // Room can appear without a Host changing (another VM stops or goes): look again now and then.
    return { requeueAfter: PENDING_RETRY_MS };
  }
  // Placement is recorded before anything happens on the host, so a restart
  // at any point finds the VM where it may have been defined.
  setCond(w, ConditionType.Scheduled, true, 'Scheduled', `placed on ${result.host}`);
  // Written with the placement, so the pass that starts the VM has nothing more to write.
  w.status.interfaces = toAgentSpec(vm, w.uid, object.metadata.generation ?? 0).nics?.map((n) => ({ name: n.name, macAddress: n.mac, bridge: n.bridge }));
  w.status.host = result.host;
  w.placements.set(w.uid, result.host);
  setPhase(w, 'Starting', false, 'Starting', `starting on ${result.host}`);
  await commit(w);
  return onHost(w, want, result.host);
}

/** The VM is placed on `host`: make the domain there match what the strategy wants. */
async function onHost(w: Work, want: boolean | 'unmanaged', host: string): Promise<ReconcileResult | void> {
  const { ctx, object, vm, uid } = w;
  const namespace = object.metadata.namespace;
  const hostKey = objectKey(namespace, host);
  const hostObject = ctx.informers.hosts.get(hostKey);
  const link = ctx.agents.link(hostKey);
  const client = ctx.agents.client(hostKey);
  if (!hostObject) {
    // The Host object is gone: nobody can confirm where the domain is.
    setPhase(w, 'Unknown', false, 'HostGone', `Host ${host} no longer exists`);
    return;
  }
  if (!linkKnowsVms(link) || !client) {
    // A stopped VM stays Stopped: only a VM that may be running becomes Unknown.
    if (w.previous.phase !== 'Stopped' && w.previous.phase !== 'Failed') {
      setPhase(w, 'Unknown', false, 'HostNotResponding', `host ${host} is not answering: ${link?.lastError ?? 'not connected yet'}`);
    }
    return { requeueAfter: POLL_MS };
  }
  const domain = link.vms.find((d) => d.uid === uid);
  const spec = toAgentSpec(vm, uid, object.metadata.generation ?? 0);
  const desiredHash = runtimeSpecHash(spec);
  w.status.interfaces = spec.nics?.map((n) => ({ name: n.name, macAddress: n.mac, bridge: n.bridge }));

  const running = domain !== undefined && isActive(domain);
  // A start that ran in the background: write what it answered (throws its error).
  const outcome = w.starts.peek(uid);
  const started = outcome !== undefined && applyStartOutcome(w, host, outcome);
  if (running) w.starts.confirmed(uid);
  else {
    // Just started here, and the link has not seen it run yet (its lifecycle
    // event is on the way): the start's answer stands; a stale list is no stop.
    const left = w.starts.unconfirmedFor(uid, host, START_CONFIRM_MS);
    if (started || left > 0) return { requeueAfter: Math.max(left, 1_000) };
  }
  if (domain !== undefined && !w.status.disks) {
    // The domain exists, so its volumes do (a pass that created them may have failed before writing status).
    w.status.disks = diskVolumes(vm, uid).map((d) => ({ name: d.name, storageDomain: d.storageDomain, volume: d.volume, created: true }));
  }
  if (running) {
    dropCond(w, ConditionType.FailoverBlocked);
    delete w.status.failover;
    if (domain.state === 'paused') {
      setPhase(w, 'Paused', false, 'Paused', `paused on ${host}${domain.reason ? ` (${domain.reason})` : ''}`);
    } else {
      setPhase(w, 'Running', want !== false, 'Running', `running on ${host}`);
    }
    if (isStorageErrorPause(domain) && want !== false) return storageErrorPause(w, host, client);
    delete w.status.pausedOnStorageErrorSince;
    if (want === false) return stop(w, host, client);
    const stale = w.status.runningSpecHash !== undefined && w.status.runningSpecHash !== desiredHash;
    if (stale) setCond(w, ConditionType.RestartRequired, true, 'SpecChanged', 'the machine definition changed (CPU, memory, disks, networks or boot); it applies at the next start');
    else setCond(w, ConditionType.RestartRequired, false, 'AsStarted', 'running the current definition');
    return;
  }

  // The domain is off, or not defined here at all.
  // Only a VM known to be running stopped now. Coming back from Unknown, it
  // died with its host if that host was fenced since the VM started.
  const diedWithHost = fencedSince(hostObject, w.status.startTime);
  const wasUp = ['Running', 'Stopping', 'Paused', 'Migrating'].includes(w.previous.phase ?? '');
  if (domain !== undefined && (wasUp || (w.previous.phase === 'Unknown' && diedWithHost))) {
    // Paused on a storage error, then stopped (killed by us, whatever libvirt calls it): a failure.
    const reason = diedWithHost ? 'HostFailure' : w.previous.pausedOnStorageErrorSince ? 'Failed' : w.previous.phase === 'Stopping' ? 'Shutdown' : stopReasonOf(domain);
    w.status.lastStopReason = reason;
    const failed = reason !== 'Shutdown';
    ctx.events.event(object, failed ? 'Warning' : 'Normal', reason === 'HostFailure' ? 'HostFailed' : failed ? 'Crashed' : 'Stopped', `VM stopped on ${host} (${reason === 'HostFailure' ? 'the host was fenced' : domain.reason ?? 'no reason given'})`);
  }
  dropCond(w, ConditionType.RestartRequired);
  delete w.status.pausedOnStorageErrorSince;
  const wantNow = wantsRunning(vm, w.status);
  if (wantNow !== true && (w.status.lastStopReason === 'HostFailure' || (w.previous.phase === 'Failed' && w.status.lastStopReason === 'Failed'))) {
    // A failure stays visible while nothing restarts it (Manual, or Halted since).
    setPhase(w, 'Failed', vm.spec.runStrategy === 'Halted', w.status.lastStopReason, `stopped by a failure (${w.status.lastStopReason}); runStrategy ${vm.spec.runStrategy} does not restart it`);
    return;
  }
  if (wantNow !== true) {
    const halted = vm.spec.runStrategy === 'Halted';
    setPhase(w, 'Stopped', true, halted ? 'Halted' : 'Stopped', halted ? 'runStrategy Halted: the VM is kept off' : `stopped (${w.status.lastStopReason ?? 'never started'}); runStrategy ${vm.spec.runStrategy} does not restart it`);
    return;
  }

  // It should run. On this host only while the host can still take it; otherwise release the host and reschedule.
  const hostSpec = hostObject.spec as { maintenance?: boolean } | undefined;
  const hostPhase = (hostObject.status as { phase?: string } | undefined)?.phase;
  if (hostSpec?.maintenance || (hostPhase !== 'Up' && hostPhase !== undefined)) {
    if (domain !== undefined) await client.undefineVm(uid);
    await ctx.agents.refresh(hostKey);
    delete w.status.host;
    w.placements.delete(uid);
    delete w.status.runningSpecHash;
    setPhase(w, 'Pending', false, 'Rescheduling', `host ${host} cannot run it (${hostSpec?.maintenance ? 'maintenance' : hostPhase}); finding another host`);
    return { requeue: true };
  }
  return w.starts.inBackground ? startInBackground(w, host, client, spec, desiredHash) : start(w, host, client, spec, desiredHash);
}

/** Stops the domain (ACPI, then power off after the grace period). */
async function stop(w: Work, host: string, client: NonNullable<ReturnType<OperatorContext['agents']['client']>>): Promise<ReconcileResult | void> {
  const { ctx, object, vm, uid } = w;
  setPhase(w, 'Stopping', false, 'Stopping', `stopping on ${host} (runStrategy ${vm.spec.runStrategy})`);
  await commit(w);
  await client.stopVm(uid, { timeoutSeconds: Math.min(vm.spec.terminationGracePeriodSeconds, MAX_STOP_TIMEOUT_SECONDS) });
  await ctx.agents.refresh(objectKey(object.metadata.namespace, host));
  w.status.lastStopReason = vm.spec.runStrategy === 'Halted' ? 'Halted' : 'Shutdown';
  delete w.status.runningSpecHash;
  setPhase(w, 'Stopped', true, vm.spec.runStrategy === 'Halted' ? 'Halted' : 'Stopped', `stopped on ${host}`);
}

/**
 * After a failover, the failed host comes back with the VM's old definition
 * (shut off) while another host runs it: removes the definition on every
 * holder but `running`, where it is shut off. Returns the hosts cleaned.
 * Only the libvirt definition goes: disks are shared and stay.
 */
async function removeStaleDefinitions(w: Work, holders: string[], running: string): Promise<string[]> {
  const { ctx, object, uid } = w;
  const namespace = object.metadata.namespace;
  const removed: string[] = [];
  for (const h of holders) {
    if (h === running) continue;
    const key = objectKey(namespace, h);
    const link = ctx.agents.link(key);
    const client = ctx.agents.client(key);
    const domain = linkKnowsVms(link) ? link.vms.find((d) => d.uid === uid) : undefined;
    if (!client || !domain || isActive(domain)) continue;
    await client.undefineVm(uid);
    void ctx.agents.refresh(key);
    removed.push(h);
    ctx.events.event(object, 'Normal', 'StaleDefinitionRemoved', `removed the VM's old definition on ${h} (it runs on ${running})`);
  }
  return removed;
}

/** True when `host` was fenced (confirmed powered off) after `since` (RFC 3339). */
function fencedSince(host: KubeObject, since: string | undefined): boolean {
  const fencedTime = (host.status as { fencing?: { fencedTime?: string } } | undefined)?.fencing?.fencedTime;
  if (!fencedTime || !since) return false;
  return Date.parse(fencedTime) >= Date.parse(since);
}
