/**
 * VirtualMachineMigration reconciler: picks the target (spec.targetHost or
 * the scheduler's best host other than the source), waits for a slot
 * (Manager spec.migration: at most maxOutboundPerHost from one host and
 * maxParallelMigrations in the namespace), asks the source host's agent to
 * live-migrate, follows progress into status, and ends Succeeded or Failed.
 * A finished migration stays as a record. Deleting a running one cancels it.
 *
 * Crash safety: the target is written to status (phase Running) before the
 * agent is asked; after a restart a Running migration is resumed from the
 * agent's job, or judged by where the domain is.
 */
import { AgentApiError, type MigrateVmRequest } from '../api/agent/index.js';
import { metaTime as rfc3339, migrationObject, type ManagerSpec, type MigrationStatus, type VirtualMachine, virtualMachineObject } from '../api/index.js';
import type { KubeObject } from '../kube/types.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import { objectKey } from '../runtime/keys.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { schedule } from '../scheduler/scheduler.js';
import { ensureFinalizer, isDeleting, removeFinalizer, validateOrReport, withReady, withStalled } from './common.js';
import type { OperatorContext } from './context.js';
import { notMigratable } from './host/drain.js';
import { errorMessage } from '../runtime/errors.js';
import { linkKnowsVms, managerSettings } from './namespace.js';
import { hostedEngineReservation, hostViews, schedulingPolicy, vmRequest } from './vm/placement.js';
import { quietOnStale } from './stale.js';

/** How often a running migration's progress is read. */
const PROGRESS_POLL_MS = 1_000;
/** Re-check delay while waiting for a slot, a target or the VM. */
const WAIT_MS = 2_000;
/** Clock difference between the operator and an agent tolerated when matching a job to this migration. */
const CLOCK_SKEW_MS = 30_000;


/** The libvirt URI the source uses to reach a target host's libvirtd. */
export function destinationURI(address: string): string {
  return `qemu+tcp://${address.includes(':') ? `[${address}]` : address}/system`;
}

/** The VirtualMachineMigration reconciler. */
export function migrationReconciler(ctx: OperatorContext): Reconciler {
  /** Migrations between "slot taken" and their Running status reaching the cache. */
  const starting = new Map<string, { namespace: string | undefined; source: string }>();

  const slotsUsed = (namespace: string | undefined, source: string, self: string) => {
    let total = 0;
    let fromSource = 0;
    const counted = new Set<string>();
    for (const m of ctx.informers.migrations.list(namespace)) {
      const s = (m.status ?? {}) as MigrationStatus;
      const key = objectKey(m.metadata.namespace, m.metadata.name);
      if (s.phase !== 'Running' || key === self) continue;
      counted.add(key);
      total += 1;
      if (s.sourceHost === source) fromSource += 1;
    }
    for (const [key, v] of starting) {
      if (counted.has(key) || key === self || v.namespace !== namespace) continue;
      total += 1;
      if (v.source === source) fromSource += 1;
    }
    return { total, fromSource };
  };

  return quietOnStale(async (key) => {
    const object = ctx.informers.migrations.get(key);
    if (!object) return;
    const previous = (object.status ?? {}) as MigrationStatus;
    const namespace = object.metadata.namespace;
    if (isDeleting(object)) {
      if (previous.phase === 'Running' && previous.sourceHost) await cancel(ctx, object, previous);
      starting.delete(key);
      await removeFinalizer(ctx, Resources.VirtualMachineMigration, object);
      return;
    }
    const migration = await validateOrReport(ctx, Resources.VirtualMachineMigration, object, migrationObject);
    if (!migration) return;
    if (previous.phase === 'Succeeded' || previous.phase === 'Failed') {
      // A record: nothing to cancel on deletion any more.
      if ((object.metadata.finalizers ?? []).length > 0) await removeFinalizer(ctx, Resources.VirtualMachineMigration, object);
      return;
    }
    if (await ensureFinalizer(ctx, Resources.VirtualMachineMigration, object)) return;

    const status: MigrationStatus = { ...previous, observedGeneration: object.metadata.generation };
    // What the server has as of this pass's last write: a second write in the same pass (Running,
    // then Failed when the source refuses) carries that write's resourceVersion, not the cache's.
    let current = object;
    const write = async (phase: NonNullable<MigrationStatus['phase']>, ready: [boolean, string, string]) => {
      const before = ((current.status ?? {}) as MigrationStatus).phase;
      status.phase = phase;
      status.conditions = withReady(ctx, object, status.conditions, ...ready);
      // A failed migration is a final record: kstatus (Flux, kpt) reads Stalled as Failed.
      if (phase === 'Failed') status.conditions = withStalled(ctx, object, status.conditions, ready[1], ready[2]);
      const written = await writeStatusIfChanged(ctx.client, Resources.VirtualMachineMigration, current, status);
      if (!written) return;
      current = { ...current, metadata: { ...current.metadata, resourceVersion: written.metadata.resourceVersion }, status: structuredClone(status) };
      if (before !== phase) ctx.events.event(object, phase === 'Failed' ? 'Warning' : 'Normal', phase, `${ready[2]}`);
    };

    if (previous.phase === 'Running') {
      const r = await follow(ctx, object, status, write);
      if (status.phase !== 'Running') starting.delete(key);
      return r;
    }

    // Pending: check the VM, pick a target, take a slot, start.
    const vmObject = ctx.informers.virtualMachines.get(objectKey(namespace, migration.spec.vmName));
    const vmStatus = (vmObject?.status ?? {}) as { phase?: string; host?: string };
    if (!vmObject) {
      await write('Pending', [false, 'VMNotFound', `VirtualMachine ${migration.spec.vmName} does not exist`]);
      return { requeueAfter: WAIT_MS };
    }
    const vm = virtualMachineObject.safeParse(vmObject);
    if (!vm.success) {
      await write('Failed', [false, 'InvalidVM', `VirtualMachine ${migration.spec.vmName} is invalid`]);
      return;
    }
    if (vmStatus.phase !== 'Running' || !vmStatus.host) {
      await write('Pending', [false, 'VMNotRunning', `VirtualMachine ${migration.spec.vmName} is ${vmStatus.phase ?? 'not yet reconciled'}, not Running`]);
      return { requeueAfter: WAIT_MS };
    }
    const source = vmStatus.host;
    status.sourceHost = source;
    // One migration of a VM at a time: another one in flight (or just started here) goes first.
    const other = ctx.informers.migrations
      .list(namespace)
      .find((m) => m.metadata.name !== object.metadata.name && (m.spec as { vmName?: string }).vmName === migration.spec.vmName && ((m.status as MigrationStatus | undefined)?.phase === 'Running' || starting.has(objectKey(namespace, m.metadata.name))));
    if (other) {
      await write('Pending', [false, 'AnotherMigrationRunning', `VirtualMachineMigration ${other.metadata.name} is moving ${migration.spec.vmName}`]);
      return { requeueAfter: WAIT_MS };
    }
    const local = notMigratable(ctx, vmObject);
    if (local) {
      status.completionTime = rfc3339(ctx.now());
      await write('Failed', [false, 'NotMigratable', `VM ${migration.spec.vmName} ${local}: it cannot be live-migrated`]);
      return;
    }
    const target = pickTarget(ctx, namespace, vm.data, vmObject, source, migration.spec.targetHost);
    if (!target.ok) {
      if (target.fatal) {
        status.completionTime = rfc3339(ctx.now());
        await write('Failed', [false, 'InvalidTarget', target.message]);
        return;
      }
      await write('Pending', [false, 'NoTargetHost', target.message]);
      return { requeueAfter: WAIT_MS };
    }
    const limits = managerSettings(ctx, namespace).migration;
    const used = slotsUsed(namespace, source, key);
    if (used.fromSource >= limits.maxOutboundPerHost || used.total >= limits.maxParallelMigrations) {
      await write('Pending', [
        false,
        'WaitingForSlot',
        `waiting for a migration slot (${used.fromSource}/${limits.maxOutboundPerHost} from ${source}, ${used.total}/${limits.maxParallelMigrations} in the namespace)`,
      ]);
      return { requeueAfter: WAIT_MS };
    }
    // No link to the source yet (a new leader's links are still forming, or the host went
    // silent): wait before recording a decision nobody can carry out yet.
    const client = ctx.agents.client(objectKey(namespace, source));
    if (!client) {
      await write('Pending', [false, 'SourceNotConnected', `no connection to the source host ${source} yet`]);
      return { requeueAfter: WAIT_MS };
    }
    starting.set(key, { namespace, source });
    const targetObject = ctx.informers.hosts.get(objectKey(namespace, target.host))!;
    const address = (targetObject.spec as { address: string }).address;
    status.targetHost = target.host;
    status.startTime = rfc3339(ctx.now());
    // Record the decision before acting on it.
    await write('Running', [false, 'Running', `migrating ${migration.spec.vmName} from ${source} to ${target.host}`]);
    try {
      await client.migrateVm(vmObject.metadata.uid ?? '', migrateRequest(address, limits));
    } catch (error) {
      // "In progress" is ours only when the running job goes where we decided (a retry after a timeout).
      const inProgress = error instanceof AgentApiError && error.reason === 'MigrationInProgress';
      const job = inProgress ? await client.getMigration(vmObject.metadata.uid ?? '').catch(() => undefined) : undefined;
      if (!inProgress || job?.destinationURI !== destinationURI(address)) {
        starting.delete(key);
        status.completionTime = rfc3339(ctx.now());
        await write('Failed', [false, error instanceof AgentApiError ? error.reason : 'MigrationFailed', `the source refused: ${errorMessage(error)}`]);
        return;
      }
    }
    return { requeueAfter: PROGRESS_POLL_MS };
  });
}

/** The agent's migrate request for a target at `address` under the Manager's migration policy. */
function migrateRequest(address: string, limits: ManagerSpec['migration']): MigrateVmRequest {
  return {
    destinationURI: destinationURI(address),
    ...(limits.bandwidthMiBps > 0 ? { bandwidthMiBps: limits.bandwidthMiBps } : {}),
    autoConverge: limits.autoConverge,
    compressed: limits.compressed,
    timeoutSeconds: limits.progressTimeoutSeconds,
  };
}

type TargetChoice = { ok: true; host: string } | { ok: false; fatal: boolean; message: string };

/** spec.targetHost checked against the filters, or the scheduler's best host other than the source. */
function pickTarget(
  ctx: OperatorContext,
  namespace: string | undefined,
  vm: VirtualMachine,
  vmObject: KubeObject,
  source: string,
  requested: string | undefined,
): TargetChoice {
  const hosts = ctx.informers.hosts.list(namespace).filter((h) => h.metadata.name !== source);
  const others = ctx.informers.virtualMachines.list(namespace).filter((v) => v.metadata.uid !== vmObject.metadata.uid);
  if (requested !== undefined) {
    if (requested === source) return { ok: false, fatal: true, message: `spec.targetHost ${requested} is the host the VM already runs on` };
    const target = hosts.find((h) => h.metadata.name === requested);
    if (!target) return { ok: false, fatal: true, message: `spec.targetHost ${requested} is not a Host in this namespace` };
    const r = schedule(vmRequest(vm), hostViews([target], others, undefined, hostedEngineReservation(ctx.informers.managers.list(namespace))), schedulingPolicy(ctx.informers.managers.list(namespace)));
    return r.ok ? { ok: true, host: r.host } : { ok: false, fatal: false, message: `target ${requested} cannot take the VM now: ${r.rejected[requested] ?? r.message}` };
  }
  const r = schedule(vmRequest(vm), hostViews(hosts, others, undefined, hostedEngineReservation(ctx.informers.managers.list(namespace))), schedulingPolicy(ctx.informers.managers.list(namespace)));
  return r.ok ? { ok: true, host: r.host } : { ok: false, fatal: false, message: r.message };
}

/** A Running migration: read the agent's job and move the status along. */
async function follow(
  ctx: OperatorContext,
  object: KubeObject,
  status: MigrationStatus,
  write: (phase: NonNullable<MigrationStatus['phase']>, ready: [boolean, string, string]) => Promise<void>,
): Promise<ReconcileResult | void> {
  const namespace = object.metadata.namespace;
  const vmName = (object.spec as { vmName: string }).vmName;
  const vm = ctx.informers.virtualMachines.get(objectKey(namespace, vmName));
  const uid = vm?.metadata.uid ?? '';
  const source = status.sourceHost!;
  const target = status.targetHost!;
  const client = ctx.agents.client(objectKey(namespace, source));
  const finish = async (ok: boolean, reason: string, message: string) => {
    status.completionTime = rfc3339(ctx.now());
    await Promise.all([source, target].map((h) => ctx.agents.refresh(objectKey(namespace, h))));
    await write(ok ? 'Succeeded' : 'Failed', [ok, reason, message]);
  };
  if (!vm) return finish(false, 'VMNotFound', `VirtualMachine ${vmName} was deleted during the migration`);
  if (!client) return { requeueAfter: WAIT_MS };
  let job: Awaited<ReturnType<NonNullable<typeof client>['getMigration']>> | undefined;
  try {
    job = await client.getMigration(uid);
  } catch (error) {
    if (!(error instanceof AgentApiError && error.status === 404)) throw error;
  }
  const targetObject = ctx.informers.hosts.get(objectKey(namespace, target));
  const expectedURI = targetObject ? destinationURI((targetObject.spec as { address: string }).address) : undefined;
  // The agent keeps the last job of a VM: an earlier migration's job is not this one's.
  // (A VM can't be migrated to where it already runs, so an earlier job to the same
  // destination is older than this decision by far more than clock skew between hosts.)
  const ours =
    job !== undefined && job.destinationURI === expectedURI && Date.parse(job.startedAt) >= Date.parse(status.startTime ?? '1970-01-01T00:00:00Z') - CLOCK_SKEW_MS;
  if (!job || !ours) {
    // The source has no job of ours (we stopped between recording the decision
    // and asking, or its agent restarted): judge by where the domain runs.
    const onTarget = ctx.agents.link(objectKey(namespace, target));
    if (linkKnowsVms(onTarget) && onTarget.vms.some((d) => d.uid === uid && d.state === 'running')) {
      return finish(true, 'Succeeded', `${vmName} runs on ${target}`);
    }
    const onSource = ctx.agents.link(objectKey(namespace, source));
    if (linkKnowsVms(onSource) && onSource.vms.some((d) => d.uid === uid && d.state === 'running') && targetObject) {
      // Still only on the source: ask again (the decision stands, nothing ran twice).
      const limits = managerSettings(ctx, namespace).migration;
      await client.migrateVm(uid, migrateRequest((targetObject.spec as { address: string }).address, limits));
      ctx.log.info({ migration: object.metadata.name, source, target }, 'no migration job of ours on the source; asked again');
      return { requeueAfter: PROGRESS_POLL_MS };
    }
    return finish(false, 'MigrationLost', `the source ${source} has no migration job for ${vmName} and the VM runs on neither host`);
  }
  const info = job.jobInfo;
  if (info) {
    status.progress = {
      ...(info.dataTotalBytes !== undefined ? { dataTotalBytes: Math.floor(info.dataTotalBytes) } : {}),
      ...(info.dataRemainingBytes !== undefined ? { dataRemainingBytes: Math.floor(info.dataRemainingBytes) } : {}),
      ...(info.memoryIteration !== undefined ? { iteration: Math.floor(info.memoryIteration) } : {}),
    };
  }
  if (job.state === 'running') {
    await write('Running', [false, 'Running', `migrating ${vmName} from ${source} to ${target}`]);
    return { requeueAfter: PROGRESS_POLL_MS };
  }
  if (job.state === 'succeeded') return finish(true, 'Succeeded', `${vmName} moved from ${source} to ${target}`);
  return finish(false, job.state === 'cancelled' ? 'Cancelled' : 'MigrationFailed', `migration of ${vmName} ${job.state}: ${job.error ?? 'no reason given'}`);
}

/** Cancels the agent's job of a Running migration being deleted. */
async function cancel(ctx: OperatorContext, object: KubeObject, status: MigrationStatus): Promise<void> {
  const namespace = object.metadata.namespace;
  const vm = ctx.informers.virtualMachines.get(objectKey(namespace, (object.spec as { vmName: string }).vmName));
  const client = ctx.agents.client(objectKey(namespace, status.sourceHost!));
  if (!vm || !client) return;
  try {
    await client.cancelMigration(vm.metadata.uid ?? '');
    ctx.events.event(vm, 'Normal', 'MigrationCancelled', `migration ${object.metadata.name} cancelled`);
  } catch (error) {
    if (!(error instanceof AgentApiError && (error.status === 404 || error.status === 409))) throw error;
  }
  await Promise.all([status.sourceHost!, status.targetHost].filter(Boolean).map((h) => ctx.agents.refresh(objectKey(namespace, h!))));
}
