/**
 * VirtualMachine reconciler: validates, keeps a finalizer (deletion must stop
 * the domain and apply diskDeletionPolicy first), honours runStrategy, and
 * schedules: with no host able to run the VM it says so with
 * Scheduled=False/NoHostAvailable and the reason for each host.
 *
 * Ready means "the VM is in the state its runStrategy asks for": a Halted VM
 * that is stopped is Ready, so GitOps tools see it as healthy.
 */
import {
  ConditionType,
  managerSpec,
  parseQuantity,
  Reason,
  setCondition,
  virtualMachineObject,
  type Condition,
  type HostStatus,
  type VirtualMachine,
  type VirtualMachineStatus,
} from '../api/index.js';
import type { Reconciler } from '../runtime/controller.js';
import type { KubeObject } from '../kube/types.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { schedule, type HostView, type SchedulingPolicy } from '../scheduler/scheduler.js';
import { ensureFinalizer, isDeleting, removeFinalizer, validateOrReport, withReady } from './common.js';
import type { OperatorContext } from './context.js';

/** Builds the scheduler's view of the hosts in a namespace from the caches. */
export function hostViews(hosts: KubeObject[], vms: KubeObject[]): HostView[] {
  return hosts.map((h) => {
    const status = (h.status ?? {}) as HostStatus;
    const spec = (h.spec ?? {}) as { maintenance?: boolean };
    // status.host is where a VM runs or last ran: only VMs that hold resources count.
    const placed = vms.filter((vm) => {
      const s = vm.status as { host?: string; phase?: string } | undefined;
      return s?.host === h.metadata.name && s.phase !== 'Stopped' && s.phase !== 'Failed';
    });
    let committedMemoryBytes = 0;
    let committedVcpus = 0;
    for (const vm of placed) {
      const vspec = vm.spec as { memory?: string | number; cpu?: { cores?: number; sockets?: number; threads?: number } };
      try {
        committedMemoryBytes += vspec.memory === undefined ? 0 : parseQuantity(vspec.memory);
      } catch {
        /* an invalid VM holds no memory */
      }
      committedVcpus += (vspec.cpu?.cores ?? 1) * (vspec.cpu?.sockets ?? 1) * (vspec.cpu?.threads ?? 1);
    }
    const cpu = status.capabilities?.cpu;
    return {
      name: h.metadata.name,
      labels: h.metadata.labels ?? {},
      phase: status.phase,
      maintenance: spec.maintenance === true,
      memoryBytes: status.capabilities?.memoryBytes,
      cpuThreads: cpu?.sockets && cpu.cores ? cpu.sockets * cpu.cores * (cpu.threads ?? 1) : undefined,
      committedMemoryBytes,
      committedVcpus,
      storageDomains: new Set((status.storageDomains ?? []).filter((d) => d.connected).map((d) => d.name)),
    };
  });
}

/** The scheduling policy of the namespace's Manager, or the defaults. */
export function schedulingPolicy(managers: KubeObject[]): SchedulingPolicy {
  // The oldest Manager is the namespace's real one (newer duplicates are refused).
  const byAge = (m: KubeObject) => `${m.metadata.creationTimestamp ?? ''}\u0000${m.metadata.name}`;
  const oldest = [...managers].sort((a, b) => (byAge(a) < byAge(b) ? -1 : byAge(a) > byAge(b) ? 1 : 0))[0];
  const parsed = managerSpec.safeParse(oldest?.spec ?? {});
  return parsed.success ? parsed.data.scheduling : managerSpec.parse({}).scheduling;
}

/** The VirtualMachine reconciler. */
export function virtualMachineReconciler(ctx: OperatorContext): Reconciler {
  return async (key) => {
    const object = ctx.informers.virtualMachines.get(key);
    if (!object) return;
    if (isDeleting(object)) {
      // No domain exists unless the VM was placed on a host; placed VMs are
      // stopped and undefined through their host's agent before this point.
      if (!(object.status as VirtualMachineStatus | undefined)?.host) await removeFinalizer(ctx, Resources.VirtualMachine, object);
      return;
    }
    const vm = await validateOrReport(ctx, Resources.VirtualMachine, object, virtualMachineObject);
    if (!vm) return;
    if (await ensureFinalizer(ctx, Resources.VirtualMachine, object)) return;
    const previous = (object.status ?? {}) as VirtualMachineStatus;
    const status = desiredStatus(ctx, object, vm, previous);
    await writeStatusIfChanged(ctx.client, Resources.VirtualMachine, object, status);
  };
}

function desiredStatus(ctx: OperatorContext, object: KubeObject, vm: VirtualMachine, previous: VirtualMachineStatus): VirtualMachineStatus {
  const now = ctx.now();
  const generation = object.metadata.generation;
  let conditions: Condition[] | undefined = previous.conditions;
  if (vm.spec.runStrategy === 'Halted' || vm.spec.runStrategy === 'Manual') {
    const running = previous.phase === 'Running';
    conditions = conditions?.filter((c) => c.type !== ConditionType.Scheduled);
    const halted = vm.spec.runStrategy === 'Halted';
    conditions = withReady(
      ctx,
      object,
      conditions,
      halted ? !running : true,
      halted ? 'Halted' : 'Manual',
      halted ? 'runStrategy Halted: the VM is kept off' : 'runStrategy Manual: the VM is started and stopped on request',
    );
    return { ...previous, observedGeneration: generation, phase: running ? 'Running' : 'Stopped', conditions };
  }
  const namespace = object.metadata.namespace;
  const vms = ctx.informers.virtualMachines.list(namespace).filter((v) => v.metadata.uid !== object.metadata.uid);
  const result = schedule(
    {
      memoryBytes: parseQuantity(vm.spec.memory),
      vcpus: vm.spec.cpu.cores * vm.spec.cpu.sockets * vm.spec.cpu.threads,
      storageDomains: [...new Set([...(vm.spec.disks ?? []).map((d) => d.storageDomain), ...(vm.spec.boot ? [vm.spec.boot.storageDomain] : [])])],
      hostSelector: vm.spec.placement?.hostSelector,
    },
    hostViews(ctx.informers.hosts.list(namespace), vms),
    schedulingPolicy(ctx.informers.managers.list(namespace)),
  );
  if (!result.ok) {
    conditions = setCondition(
      conditions,
      { type: ConditionType.Scheduled, status: 'False', reason: Reason.NoHostAvailable, message: result.message, observedGeneration: generation },
      now,
    );
    conditions = withReady(ctx, object, conditions, false, Reason.NoHostAvailable, result.message);
    return { ...previous, observedGeneration: generation, phase: 'Pending', conditions };
  }
  conditions = setCondition(
    conditions,
    { type: ConditionType.Scheduled, status: 'True', reason: 'Scheduled', message: `placed on ${result.host}`, observedGeneration: generation },
    now,
  );
  conditions = withReady(ctx, object, conditions, false, 'Starting', `starting on ${result.host}`);
  return { ...previous, observedGeneration: generation, phase: 'Scheduling', conditions };
}
