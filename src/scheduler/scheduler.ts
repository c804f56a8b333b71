/**
 * VM placement, oVirt-style: filters remove hosts that can't run the VM, then
 * a weight picks among the rest. Pure: the caller builds the views from the
 * informer caches, so the same code serves reconcilers and benchmarks.
 */
import type { LabelSelector } from '../api/index.js';
import { matchesSelector } from './selector.js';

/** What the scheduler knows about a host. */
export interface HostView {
  name: string;
  labels: Record<string, string>;
  phase: string | undefined;
  maintenance: boolean;
  /** Physical memory in bytes (undefined until the agent reported capabilities). */
  memoryBytes: number | undefined;
  /** Physical CPU threads. */
  cpuThreads: number | undefined;
  /** Memory and vCPUs of the VMs already placed on the host. */
  committedMemoryBytes: number;
  committedVcpus: number;
  /** Storage domains the host is connected to. */
  storageDomains: ReadonlySet<string>;
  /** What its VMs run under (undefined until the agent reported capabilities). */
  hypervisorType?: 'kvm' | 'qemu';
  /** Named CPU models it can give (undefined: it does not say, and the start decides). */
  cpuModels?: ReadonlySet<string>;
}

/** What a VM needs. */
export interface VMRequest {
  memoryBytes: number;
  vcpus: number;
  storageDomains: readonly string[];
  hostSelector: LabelSelector | undefined;
  /** A named CPU model (not host-model or host-passthrough), which the host must list. */
  cpuModel?: string;
  /** acceleration: KVM, which a TCG-only host refuses. */
  requiresKvm?: boolean;
  /** acceleration: TCG: a KVM host's model list (KVM's) does not describe what it emulates. */
  tcgOnly?: boolean;
}

/** Overcommit and weighting policy (from Manager.spec.scheduling). */
export interface SchedulingPolicy {
  policy: 'EvenlyDistributed' | 'PowerSaving';
  cpuOvercommitPercent: number;
  memoryOvercommitPercent: number;
}

/** Where the VM goes, or why it can't go anywhere. */
export type ScheduleResult =
  | { ok: true; host: string }
  | { ok: false; message: string; rejected: Record<string, string> };

/** Each filter returns undefined when the host passes, or why it doesn't. */
type Filter = (host: HostView, vm: VMRequest, policy: SchedulingPolicy) => string | undefined;

const FILTERS: Filter[] = [
  (h) => (h.phase === 'Up' ? undefined : `host is ${h.phase ?? 'not yet reporting'}`),
  (h) => (h.maintenance ? 'host is in maintenance' : undefined),
  (h, vm) => (matchesSelector(vm.hostSelector, h.labels) ? undefined : 'host does not match placement.hostSelector'),
  (h, vm) => {
    const missing = vm.storageDomains.filter((d) => !h.storageDomains.has(d));
    return missing.length === 0 ? undefined : `host is not connected to storage domain ${missing.join(', ')}`;
  },
  (h, vm) => (vm.requiresKvm && h.hypervisorType === 'qemu' ? 'host has no usable KVM (acceleration: KVM)' : undefined),
  (h, vm) => {
    // A host lists the models of its own domain type; a TCG VM on a KVM host is left to the start (422 if it cannot).
    if (vm.cpuModel === undefined || h.cpuModels === undefined || (vm.tcgOnly && h.hypervisorType === 'kvm')) return undefined;
    return h.cpuModels.has(vm.cpuModel) ? undefined : `host CPU cannot give model ${vm.cpuModel}`;
  },
  (h, vm, p) => {
    if (h.memoryBytes === undefined) return 'host memory unknown';
    const capacity = (h.memoryBytes * p.memoryOvercommitPercent) / 100;
    return h.committedMemoryBytes + vm.memoryBytes <= capacity ? undefined : 'not enough free memory';
  },
  (h, vm, p) => {
    if (h.cpuThreads === undefined) return 'host CPU count unknown';
    const capacity = (h.cpuThreads * p.cpuOvercommitPercent) / 100;
    return h.committedVcpus + vm.vcpus <= capacity ? undefined : 'not enough CPU';
  },
];

/** Free memory fraction after placing the VM: the weight both policies use, in opposite directions. */
function freeAfter(h: HostView, vm: VMRequest, p: SchedulingPolicy): number {
  const capacity = ((h.memoryBytes ?? 0) * p.memoryOvercommitPercent) / 100;
  return capacity === 0 ? 0 : (capacity - h.committedMemoryBytes - vm.memoryBytes) / capacity;
}

/** Picks a host for `vm` among `hosts`, deterministically (ties broken by name). */
export function schedule(vm: VMRequest, hosts: readonly HostView[], policy: SchedulingPolicy): ScheduleResult {
  const rejected: Record<string, string> = {};
  const feasible: HostView[] = [];
  for (const host of hosts) {
    const reason = FILTERS.map((f) => f(host, vm, policy)).find((r) => r !== undefined);
    if (reason) rejected[host.name] = reason;
    else feasible.push(host);
  }
  if (feasible.length === 0) {
    const detail = Object.entries(rejected)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, why]) => `${name}: ${why}`)
      .join('; ');
    return {
      ok: false,
      message: hosts.length === 0 ? 'no hosts in this namespace' : `no host can run the VM (${detail})`,
      rejected,
    };
  }
  const sign = policy.policy === 'PowerSaving' ? -1 : 1;
  feasible.sort((a, b) => sign * (freeAfter(b, vm, policy) - freeAfter(a, vm, policy)) || a.name.localeCompare(b.name));
  return { ok: true, host: feasible[0]!.name };
}
