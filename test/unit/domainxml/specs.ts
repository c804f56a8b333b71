/**
 * Domain specs shared by the domainxml tests. Each golden spec has a file
 * `golden/<name>.xml` holding the XML `buildDomainXml` must produce for it.
 */
import type { DomainSpec } from '../../../src/hypervisor/domainxml/types.js';

/** Minimal TCG VM: direct kernel boot, one virtio disk, one NIC; CPU asked as host-passthrough. */
export const tcgMinimal: DomainSpec = {
  uid: '6f1c9a52-3e1b-4b7e-9a57-2d7f0c1e8a01',
  name: 'demo_tiny',
  title: 'demo/tiny',
  owner: { namespace: 'demo', name: 'tiny' },
  hypervisor: 'qemu',
  cpu: { cores: 1, mode: 'host-passthrough' },
  memoryMiB: 256,
  boot: {
    kernel: '/var/lib/drover/boot/vmlinuz',
    initrd: '/var/lib/drover/boot/initrd.cpio.gz',
    cmdline: 'console=ttyS0 panic=-1 quiet',
  },
  disks: [
    { name: 'root', path: '/srv/drover/sd-shared/demo/tiny-root.qcow2', format: 'qcow2', bus: 'virtio' },
  ],
  interfaces: [{ name: 'default', bridge: 'br0', mac: '52:54:00:3a:7c:01', model: 'virtio' }],
};

/** KVM VM: 2×2 topology, two disks (virtio + scsi), two NICs, explicit boot order, VNC, lease policy. */
export const kvmTwoDisksTwoNics: DomainSpec = {
  uid: '0b9e2d4c-71a8-4f3d-8c6e-5a4b3c2d1e0f',
  name: 'prod_db-1',
  title: 'prod/db-1',
  owner: { namespace: 'prod', name: 'db-1' },
  generation: 7,
  hypervisor: 'kvm',
  cpu: { sockets: 2, cores: 2, threads: 1, mode: 'host-passthrough' },
  memoryMiB: 4096,
  disks: [
    {
      name: 'root',
      path: '/srv/drover/sd-shared/prod/db-1-root.qcow2',
      format: 'qcow2',
      bus: 'virtio',
      bootOrder: 2,
      serial: 'db1-root',
    },
    {
      name: 'data',
      path: '/srv/drover/sd-shared/prod/db-1-data.img',
      format: 'raw',
      bus: 'scsi',
      cache: 'directsync',
    },
  ],
  interfaces: [
    { name: 'frontend', bridge: 'br-front', mac: '52:54:00:10:00:01', model: 'virtio', bootOrder: 1 },
    { name: 'backend', bridge: 'br-back', mac: '52:54:00:10:00:02', model: 'e1000' },
  ],
  graphics: { type: 'vnc' },
  onLockFailure: 'poweroff',
};

/** Installer VM: read-only raw ISO as a SATA cdrom booted first, blank virtio disk second, custom CPU model. */
export const kvmIsoInstaller: DomainSpec = {
  uid: 'a3d5f7e9-1b2c-4d3e-8f4a-5b6c7d8e9f00',
  name: 'lab_installer',
  owner: { namespace: 'lab', name: 'installer' },
  specHash: 'fixed-hash-for-golden',
  hypervisor: 'kvm',
  machine: 'q35',
  cpu: { cores: 2, mode: 'custom', model: 'Nehalem' },
  memoryMiB: 2048,
  disks: [
    { name: 'root', path: '/srv/drover/sd-local/lab/installer-root.qcow2', format: 'qcow2', bus: 'virtio', bootOrder: 2 },
    {
      name: 'install-iso',
      path: '/srv/drover/iso/debian-12.iso',
      format: 'raw',
      bus: 'sata',
      device: 'cdrom',
      readOnly: true,
      bootOrder: 1,
    },
  ],
  interfaces: [{ name: 'default', bridge: 'br0', mac: '52:54:00:aa:bb:cc', model: 'virtio' }],
};

/**
 * Kernel-boot-only TCG VM (no disk to lease) with a whole-VM lease in lockd's
 * lockspace: libvirt acquires `/srv/drover/shared/lockspace/<uid>`.
 */
export const tcgKernelOnlyLease: DomainSpec = {
  uid: '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a09',
  name: 'ha_kernel-only',
  title: 'ha/kernel-only',
  owner: { namespace: 'ha', name: 'kernel-only' },
  hypervisor: 'qemu',
  cpu: { cores: 1, mode: 'host-model' },
  memoryMiB: 192,
  boot: { kernel: '/srv/drover/shared/images/guest/vmlinuz', initrd: '/srv/drover/shared/images/guest/initrd.img', cmdline: 'console=ttyS0' },
  disks: [],
  interfaces: [{ name: 'mgmt', bridge: 'br0', mac: '52:54:00:95:00:21', model: 'virtio' }],
  onLockFailure: 'poweroff',
  lease: { lockspace: 'lockspace', key: '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a09', targetPath: '/srv/drover/shared' },
};

/** The specs with committed golden files, by golden file name. */
export const goldenSpecs: Record<string, DomainSpec> = {
  'tcg-minimal': tcgMinimal,
  'kvm-2disks-2nics-bootorder': kvmTwoDisksTwoNics,
  'kvm-iso-installer': kvmIsoInstaller,
  'tcg-kernel-only-lease': tcgKernelOnlyLease,
};

/** A deep copy, so a test can change a spec without touching the shared one. */
export function clone(spec: DomainSpec): DomainSpec {
  return structuredClone(spec);
}
