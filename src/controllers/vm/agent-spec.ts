/**
 * VirtualMachine → the agent-level VM spec: pure. Disk volumes get stable
 * names derived from the VM's name and UID (two VMs with the same name in
 * different namespaces never share a volume), and NICs without a MAC get one
 * derived from the UID, so the MAC survives restarts and migrations.
 */
import { createHash } from 'node:crypto';
import { parseQuantity, type VirtualMachine } from '../../api/index.js';
import type { VmSpecInput } from '../../api/agent/index.js';
import { canonicalJson } from '../../operator/status.js';

/** A disk's volume on its storage domain. */
export interface DiskVolume {
  name: string;
  storageDomain: string;
  volume: string;
  sizeBytes: number;
}

/** The volume name of `disk` of the VM `vmName` with `uid`: a DNS label of at most 63 characters. */
export function volumeName(vmName: string, uid: string, disk: string): string {
  const suffix = `-${uid.replace(/-/g, '').slice(0, 8)}`;
  const full = `${vmName}-${disk}`;
  if (full.length + suffix.length <= 63) return `${full}${suffix}`;
  // Cut names keep a hash of the disk name, so two disks of one VM never share a volume.
  const diskHash = createHash('sha256').update(disk).digest('hex').slice(0, 6);
  const base = full.slice(0, 63 - suffix.length - diskHash.length - 1).replace(/-+$/, '');
  return `${base}-${diskHash}${suffix}`;
}

/** A locally administered unicast MAC (52:54:00 is QEMU's prefix) derived from the UID and NIC name. */
export function derivedMac(uid: string, nic: string): string {
  const h = createHash('sha256').update(`${uid}/${nic}`).digest();
  return ['52', '54', '00', h[0]!, h[1]!, h[2]!].map((b) => (typeof b === 'number' ? b.toString(16).padStart(2, '0') : b)).join(':');
}

/** The volumes the VM's disks live on. */
export function diskVolumes(vm: VirtualMachine, uid: string): DiskVolume[] {
  // Volumes are sized in 512-byte sectors; round up so a repeated create asks for the same size.
  return (vm.spec.disks ?? []).map((d) => ({
    name: d.name,
    storageDomain: d.storageDomain,
    volume: volumeName(vm.metadata.name, uid, d.name),
    sizeBytes: Math.ceil(parseQuantity(d.size) / 512) * 512,
  }));
}

/** libvirt domain name: `<namespace>_<name>`, unique per host across namespaces. */
export function domainName(namespace: string, name: string): string {
  return `${namespace}_${name}`.slice(0, 128);
}

/** The agent-level spec for `vm` (whose UID is `uid`). */
export function toAgentSpec(vm: VirtualMachine, uid: string, generation: number): VmSpecInput {
  const namespace = vm.metadata.namespace ?? 'default';
  const volumes = new Map(diskVolumes(vm, uid).map((v) => [v.name, v]));
  const spec: VmSpecInput = {
    name: domainName(namespace, vm.metadata.name),
    owner: { namespace, name: vm.metadata.name },
    generation,
    // model only when set: VMs without one keep their spec hash (no RestartRequired after an upgrade).
    cpu: { cores: vm.spec.cpu.cores, sockets: vm.spec.cpu.sockets, threads: vm.spec.cpu.threads, ...(vm.spec.cpu.model !== undefined ? { model: vm.spec.cpu.model } : {}) },
    memoryMiB: Math.max(16, Math.ceil(parseQuantity(vm.spec.memory) / (1024 * 1024))),
    acceleration: vm.spec.acceleration === 'KVM' ? 'kvm' : vm.spec.acceleration === 'TCG' ? 'tcg' : 'auto',
    disks: (vm.spec.disks ?? []).map((d) => ({
      name: d.name,
      domain: d.storageDomain,
      volume: volumes.get(d.name)!.volume,
      bus: d.bus,
      ...(d.bootOrder !== undefined ? { bootOrder: d.bootOrder } : {}),
      ...(d.readOnly ? { readOnly: true } : {}),
    })),
    nics: (vm.spec.networks ?? []).map((n) => ({
      name: n.name,
      bridge: n.bridge,
      mac: n.macAddress ?? derivedMac(uid, n.name),
      model: n.model,
    })),
  };
  if (vm.spec.boot) {
    spec.boot = {
      domain: vm.spec.boot.storageDomain,
      kernel: vm.spec.boot.kernel,
      ...(vm.spec.boot.initrd !== undefined ? { initrd: vm.spec.boot.initrd } : {}),
      ...(vm.spec.boot.cmdline !== undefined ? { cmdline: vm.spec.boot.cmdline } : {}),
    };
  }
  return spec;
}

/**
 * Hash of what a running instance was started from: the agent spec without
 * the generation, so a spec change that does not touch the machine (say
 * runStrategy) never asks for a restart.
 */
export function runtimeSpecHash(spec: VmSpecInput): string {
  const { generation: _generation, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}
