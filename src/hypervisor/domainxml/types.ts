/**
 * Types for the pure "VM spec → libvirt domain XML" conversion.
 *
 * {@link DomainSpec} is the hypervisor-level description the host agent hands
 * to the libvirt driver. It is deliberately flatter than the Kubernetes
 * `VirtualMachine` API: quantities are already resolved to integers, storage
 * is already resolved to paths on this host, and every identity the system
 * generates (domain UUID = Kubernetes UID, MAC addresses) is already chosen.
 * Nothing in this folder does I/O.
 *
 * @packageDocumentation
 */

/** XML namespace of Drover's own `<metadata>` element in a domain. */
export const DROVER_XMLNS = 'https://drover.io/xmlns/domain/v1alpha1';

/** Prefix bound to {@link DROVER_XMLNS} in the XML Drover writes. */
export const DROVER_XMLNS_PREFIX = 'drover';

/** Machine type used when {@link DomainSpec.machine} is not set. */
export const DEFAULT_MACHINE = 'q35';

/** Smallest memory size accepted, in MiB (no useful x86 guest boots below this). */
export const MIN_MEMORY_MIB = 16;

/**
 * Domain type: `kvm` uses hardware virtualization, `qemu` is plain QEMU
 * emulation (TCG), which works everywhere and is what CI uses.
 */
export type HypervisorType = 'kvm' | 'qemu';

/** libvirt CPU modes Drover exposes. */
export type CpuMode = 'host-passthrough' | 'host-model' | 'custom';

/** Guest CPU shape. The vCPU count is `sockets * cores * threads`. */
export interface CpuSpec {
  /** Cores per socket (at least 1). */
  cores: number;
  /** Sockets; default 1. */
  sockets?: number;
  /** Threads per core; default 1. */
  threads?: number;
  /**
   * Requested CPU mode. Under TCG (`hypervisor: 'qemu'`) the host-derived
   * modes are replaced, see `effectiveCpu` in `cpu.ts`.
   */
  mode: CpuMode;
  /** CPU model name for `custom` mode (e.g. `Skylake-Server`, `qemu64`). */
  model?: string;
}

/** Direct kernel boot: QEMU loads the kernel and initrd itself, no bootloader. */
export interface DirectKernelBoot {
  /** Absolute path of the kernel image on the host. */
  kernel: string;
  /** Absolute path of the initrd/initramfs on the host. */
  initrd?: string;
  /** Kernel command line. */
  cmdline?: string;
}

/** Disk image formats Drover writes into `<driver type=…>`. */
export type DiskFormat = 'qcow2' | 'raw';

/** Disk buses. `sata` and `scsi` share the `sd*` target namespace. */
export type DiskBus = 'virtio' | 'sata' | 'scsi';

/**
 * Host page-cache mode for a disk. `none` (O_DIRECT) and `directsync` are the
 * modes libvirt considers safe for live migration on shared storage, because
 * no dirty data sits in the source host's page cache at switch-over.
 */
export type DiskCache = 'none' | 'directsync' | 'writethrough' | 'writeback' | 'unsafe';

/** One disk of the VM, backed by an image file on this host. */
export interface DiskSpec {
  /**
   * Name of the disk in the VM spec (a DNS-1123 label). It is written as the
   * libvirt user alias `ua-disk-<name>` so it can be read back from a domain.
   */
  name: string;
  /** Absolute path of the image file on the host. */
  path: string;
  /** Image format. */
  format: DiskFormat;
  /** Guest bus. */
  bus: DiskBus;
  /** `disk` (default) or `cdrom`; a cdrom needs a `sata` or `scsi` bus and is always read-only. */
  device?: 'disk' | 'cdrom';
  /**
   * Guest target device name (`vda`, `sdb`, …). Normally omitted: names are
   * assigned deterministically (see `assignDiskTargets` in `disks.ts`). Pin it
   * when removing an earlier disk must not rename the later ones.
   */
  target?: string;
  /** Position in the boot order (1 = first); unique across disks and interfaces. */
  bootOrder?: number;
  /** Attach read-only. */
  readOnly?: boolean;
  /** Serial number shown to the guest (`/dev/disk/by-id/…`), at most 20 characters. */
  serial?: string;
  /** Host cache mode; default `none` (see {@link DiskCache}). */
  cache?: DiskCache;
}

/** NIC models Drover supports. */
export type InterfaceModel = 'virtio' | 'e1000';

/** One NIC, attached to an existing Linux bridge on the host. */
export interface InterfaceSpec {
  /**
   * Name of the NIC in the VM spec (a DNS-1123 label), written as the libvirt
   * user alias `ua-net-<name>`.
   */
  name: string;
  /** Host bridge to plug the tap device into. */
  bridge: string;
  /** MAC address: lower-case, colon-separated, unicast (see `generateMac` in `mac.ts`). */
  mac: string;
  /** Device model; `virtio` unless the guest lacks the driver. */
  model: InterfaceModel;
  /** Position in the boot order (PXE); unique across disks and interfaces. */
  bootOrder?: number;
}

/** Optional graphical console. Drover VMs have none unless asked. */
export interface GraphicsSpec {
  /** Only VNC for now. */
  type: 'vnc';
  /** Listen address; default `127.0.0.1` so an unauthenticated VNC server is never exposed by accident. */
  listen?: string;
}

/** The Kubernetes object a domain belongs to. */
export interface OwnerRef {
  /** Namespace of the `VirtualMachine`. */
  namespace: string;
  /** Name of the `VirtualMachine`. */
  name: string;
}

/**
 * What libvirt does with the domain when its lock-manager lease is lost
 * (`<on_lockfailure>`). `poweroff` is the choice that upholds "never run a VM
 * twice": the instance that lost its lease stops writing at once.
 */
export type LockFailureAction = 'poweroff' | 'pause' | 'ignore';

/**
 * A lock-manager lease of the whole VM (`<lease>`): the lock manager holds
 * the resource `key` in the lockspace `<targetPath>/<lockspace>` for as long
 * as the VM runs. With libvirt's lockd that lockspace must be one virtlockd
 * registered (its `file_lockspace_dir`); see src/agent/leases/vm-lease.ts.
 */
export interface LeaseSpec {
  lockspace: string;
  key: string;
  /** Absolute path; the lease file is `<targetPath>/<lockspace>/<key>`. */
  targetPath: string;
}

/** Hypervisor-level description of a VM, as the agent hands it to the driver. */
export interface DomainSpec {
  /**
   * Kubernetes UID of the `VirtualMachine` (a lower-case UUID). It is the
   * libvirt domain `<uuid>`, so the identity is the same on every host and
   * survives restarts and migrations.
   */
  uid: string;
  /** libvirt domain name; see `validateDomainSpec` for the allowed form. */
  name: string;
  /** Human-readable title, e.g. `namespace/name`. */
  title?: string;
  /** Owning `VirtualMachine`, recorded in Drover's `<metadata>`. */
  owner: OwnerRef;
  /** `metadata.generation` of the `VirtualMachine` the domain was built from, for status only. */
  generation?: number;
  /**
   * Opaque hash of the spec, recorded in `<metadata>` so the agent can tell a
   * stale definition from a current one. When omitted, `computeSpecHash(spec)`
   * from `metadata.ts` is used.
   */
  specHash?: string;
  /** Domain type. */
  hypervisor: HypervisorType;
  /** Machine type; default {@link DEFAULT_MACHINE}. libvirt expands `q35` to a versioned name at define time. */
  machine?: string;
  /** Guest CPU. */
  cpu: CpuSpec;
  /** Guest memory in MiB (an integer, at least {@link MIN_MEMORY_MIB}). */
  memoryMiB: number;
  /** Direct kernel boot; when absent the firmware boots from the devices' boot order. */
  boot?: DirectKernelBoot;
  /** Disks, in the order the guest sees them on each bus. */
  disks: DiskSpec[];
  /** NICs, in guest order. */
  interfaces: InterfaceSpec[];
  /** Graphical console; none by default (the serial console is always present). */
  graphics?: GraphicsSpec;
  /** Action on lease loss; absent = libvirt's default. */
  onLockFailure?: LockFailureAction;
  /** A lease of the VM itself, besides any automatic disk leases; none by default. */
  lease?: LeaseSpec;
}

/**
 * A value in fast-xml-parser's builder shape: keys starting with `@_` are
 * attributes, `#text` is text content, arrays repeat the element, and an
 * empty string renders as an empty element (`<acpi/>`).
 */
export type XmlValue = string | number | XmlElement | XmlElement[];

/** An element in fast-xml-parser's builder shape (see {@link XmlValue}). */
export interface XmlElement {
  [key: string]: XmlValue;
}
