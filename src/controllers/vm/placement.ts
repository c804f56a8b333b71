/**
 * The scheduler's inputs built from the informer caches: host views (with
 * what placed VMs already hold) and a VM's request. The scheduler itself
 * (src/scheduler) stays pure.
 */
import { parseQuantity, type HostStatus, type VirtualMachine } from '../../api/index.js';
import type { KubeObject } from '../../kube/types.js';
import type { HostView, SchedulingPolicy, VMRequest } from '../../scheduler/scheduler.js';
import { namespaceManager, settingsOf } from '../namespace.js';

/** Phases in which a VM placed on a host (status.host) holds no resources there. */
const NOT_HOLDING = new Set(['Stopped', 'Failed', 'Pending']);

/** True when the VM with `status` occupies `host`: placed there and not stopped, failed or pending. */
export function occupies(status: { host?: string; phase?: string } | undefined, host: string): boolean {
  return status?.host === host && !NOT_HOLDING.has(status.phase ?? '');
}

/** vCPUs of a VM spec (sockets × cores × threads). */
function vcpusOf(spec: { cpu?: { cores?: number; sockets?: number; threads?: number } } | undefined): number {
  return (spec?.cpu?.cores ?? 1) * (spec?.cpu?.sockets ?? 1) * (spec?.cpu?.threads ?? 1);
}

function memoryOf(spec: { memory?: string | number } | undefined): number {
  try {
    return spec?.memory === undefined ? 0 : parseQuantity(spec.memory);
  } catch {
    return 0; // an invalid VM holds no memory
  }
}

/** What a VM spec holds on a host, kept per spec object (informer objects are replaced, never changed, on update). */
const heldBySpec = new WeakMap<object, { memoryBytes: number; vcpus: number }>();

function held(vm: KubeObject): { memoryBytes: number; vcpus: number } {
  const spec = (vm.spec ?? {}) as { memory?: string | number; cpu?: { cores?: number; sockets?: number; threads?: number } };
  let h = heldBySpec.get(spec);
  if (!h) {
    h = { memoryBytes: memoryOf(spec), vcpus: vcpusOf(spec) };
    heldBySpec.set(spec, h);
  }
  return h;
}

/**
 * Builds the scheduler's view of the hosts in a namespace from the caches.
 *
 * `placedHere` holds placements this process made (VM UID → host) that the
 * cache may not show yet: with several VM workers, a placement written a
 * moment ago must already count, or two VMs scheduled at once could both
 * take the last room on a host.
 *
 * One pass over the VMs (not one per host): with 100 hosts and 2,000 VMs a
 * per-host scan made each placement 200,000 steps, and the cold start's
 * placements quadratic (the profile's top Drover frame at 800 VMs).
 */
export function hostViews(
  hosts: KubeObject[],
  vms: KubeObject[],
  placedHere: ReadonlyMap<string, string> = new Map(),
  /** Resources held outside VirtualMachines, by host (the self-hosted Manager VM: {@link hostedEngineReservation}). */
  reserved: ReadonlyMap<string, Held> = new Map(),
): HostView[] {
  const committed = new Map<string, Held>();
  const add = (host: string, h: Held) => {
    const c = committed.get(host);
    if (c) {
      c.memoryBytes += h.memoryBytes;
      c.vcpus += h.vcpus;
    } else committed.set(host, { ...h });
  };
  for (const [host, h] of reserved) add(host, h);
  for (const vm of vms) {
    const s = vm.status as { host?: string; phase?: string; migration?: { targetHost?: string } } | undefined;
    const pending = s?.host === undefined ? placedHere.get(vm.metadata.uid ?? '') : undefined;
    // A VM holds resources where it runs, and on the target of its migration while it moves.
    const on = s?.host !== undefined && occupies(s, s.host) ? s.host : pending;
    const target = s?.migration?.targetHost;
    if (on === undefined && target === undefined) continue;
    const h = held(vm);
    if (on !== undefined) add(on, h);
    if (target !== undefined && target !== on) add(target, h);
  }
  return hosts.map((h) => {
    const status = (h.status ?? {}) as HostStatus;
    const spec = (h.spec ?? {}) as { maintenance?: boolean };
    const c = committed.get(h.metadata.name);
    const cpu = status.capabilities?.cpu;
    return {
      name: h.metadata.name,
      labels: h.metadata.labels ?? {},
      phase: status.phase,
      maintenance: spec.maintenance === true,
      memoryBytes: status.capabilities?.memoryBytes,
      cpuThreads: cpu?.sockets && cpu.cores ? cpu.sockets * cpu.cores * (cpu.threads ?? 1) : undefined,
      committedMemoryBytes: c?.memoryBytes ?? 0,
      committedVcpus: c?.vcpus ?? 0,
      storageDomains: new Set((status.storageDomains ?? []).filter((d) => d.connected).map((d) => d.name)),
      ...(status.capabilities?.hypervisorType ? { hypervisorType: status.capabilities.hypervisorType } : {}),
      ...(status.capabilities?.cpuModels ? { cpuModels: new Set(status.capabilities.cpuModels) } : {}),
    };
  });
}

/** Memory and vCPUs a placed workload holds on a host. */
export interface Held {
  memoryBytes: number;
  vcpus: number;
}

/**
 * What the self-hosted Manager VM holds on the node running it: it is not a
 * VirtualMachine, so without this the scheduler would fill that node as if
 * the Manager took nothing.
 */
export function hostedEngineReservation(managers: KubeObject[]): Map<string, Held> {
  const manager = namespaceManager(managers);
  const spec = manager?.spec as { mode?: string; selfHosted?: { vm?: { memory?: string | number; cpu?: { cores?: number } } } } | undefined;
  const host = (manager?.status as { hostedEngine?: { host?: string } } | undefined)?.hostedEngine?.host;
  if (spec?.mode !== 'SelfHosted' || host === undefined) return new Map();
  return new Map([[host, { memoryBytes: memoryOf(spec.selfHosted?.vm), vcpus: spec.selfHosted?.vm?.cpu?.cores ?? 2 }]]);
}

/** The scheduling policy of the namespace's Manager, or the defaults. */
export function schedulingPolicy(managers: KubeObject[]): SchedulingPolicy {
  return settingsOf(managers).scheduling;
}

/** What `vm` asks of a host. */
export function vmRequest(vm: VirtualMachine): VMRequest {
  return {
    memoryBytes: parseQuantity(vm.spec.memory),
    vcpus: vm.spec.cpu.cores * vm.spec.cpu.sockets * vm.spec.cpu.threads,
    storageDomains: [...new Set([...(vm.spec.disks ?? []).map((d) => d.storageDomain), ...(vm.spec.boot ? [vm.spec.boot.storageDomain] : [])])],
    hostSelector: vm.spec.placement?.hostSelector,
    ...(namedCpuModel(vm.spec.cpu.model) ? { cpuModel: vm.spec.cpu.model } : {}),
    ...(vm.spec.acceleration === 'KVM' ? { requiresKvm: true } : {}),
    ...(vm.spec.acceleration === 'TCG' ? { tcgOnly: true } : {}),
  };
}

/** True for a named model: host-model and host-passthrough are whatever the host has. */
function namedCpuModel(model: string | undefined): model is string {
  return model !== undefined && model !== 'host-model' && model !== 'host-passthrough';
}
