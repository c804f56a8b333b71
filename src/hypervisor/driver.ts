/**
 * The hypervisor driver interface: everything the host agent asks of the
 * hypervisor. The real implementation is libvirt (src/hypervisor/libvirt/);
 * a simulated one may exist for scale benchmarks only, named as such.
 * Domains are addressed by UUID (the VM's Kubernetes UID), never by a name
 * built from user input.
 */

/** libvirt's domain states, as `virsh domstate` names them. */
export type DomainState = 'running' | 'blocked' | 'paused' | 'shutdown' | 'shut off' | 'crashed' | 'pmsuspended' | 'no state';

/** A defined domain as the driver sees it. */
export interface DomainInfo {
  uuid: string;
  name: string;
  state: DomainState;
  /** Why the domain is in its state (virsh domstate --reason), e.g. "destroyed", "crashed", "migrated", "ioerror". */
  reason?: string;
  persistent: boolean;
  /** The domain XML (inactive definition), for ownership and stale-spec checks. */
  xml: string;
}

/** A domain's UUID and name: what a cheap listing gives. */
export interface DomainName {
  uuid: string;
  name: string;
}

/** Host facts, as reported by the hypervisor. */
export interface HostCapabilities {
  hostUUID: string;
  cpu: { model?: string; vendor?: string; sockets: number; cores: number; threads: number; flags: string[] };
  memoryBytes: number;
  /** 'kvm' when KVM domains can actually run, else 'qemu' (TCG). */
  hypervisorType: 'kvm' | 'qemu';
  libvirtVersion: string;
  qemuVersion: string;
  /**
   * Named CPU models a VM can ask for here (`spec.cpu.model`) under
   * `hypervisorType`: libvirt's domain capabilities, usable ones only.
   * Absent when the hypervisor does not say.
   */
  cpuModels?: string[];
}

/** Live migration options (oVirt/KubeVirt knobs). */
export interface MigrationOptions {
  /** libvirt URI of the destination, e.g. qemu+tcp://10.0.0.12/system (test bed) or qemu+tls://host/system. */
  destinationURI: string;
  /** Max bandwidth in MiB/s; 0 = unlimited. */
  bandwidthMiBps?: number;
  autoConverge?: boolean;
  compressed?: boolean;
  /** Max downtime in ms (QEMU's default is 300). */
  maxDowntimeMs?: number;
  /** Abort if the migration takes longer than this. */
  timeoutSeconds?: number;
  /**
   * Skip libvirt's migration safety checks (`virsh migrate --unsafe`). libvirt
   * refuses ("Migration without shared storage is unsafe") when a disk sits on
   * a filesystem it does not recognise as shared (it knows NFS, GFS2, OCFS2,
   * CephFS, ...); set this only when the caller knows every disk is on
   * storage the destination sees, e.g. a PosixFS domain or the test bed's
   * shared directory.
   */
  unsafe?: boolean;
}

/** Progress of a running job (virsh domjobinfo). */
export interface JobInfo {
  type: 'none' | 'bounded' | 'unbounded' | 'completed' | 'failed' | 'cancelled';
  operation?: string;
  elapsedMs?: number;
  dataTotalBytes?: number;
  dataProcessedBytes?: number;
  dataRemainingBytes?: number;
  memoryIteration?: number;
}

/** A lifecycle event from the hypervisor. */
export interface DomainEvent {
  uuid: string;
  name: string;
  /** libvirt lifecycle event: defined, undefined, started, suspended, resumed, stopped, shutdown, pmsuspended, crashed. */
  event: string;
  /** Event detail, e.g. "destroyed", "failed", "migrated", "booted", "ioerror". */
  detail: string;
  time: string;
}

/** Error kinds the agent maps to HTTP answers. */
export type DriverErrorKind = 'NotFound' | 'InvalidSpec' | 'Conflict' | 'LeaseHeld' | 'Unavailable' | 'Failed';

/** A driver failure with a kind the agent can act on. */
export class DriverError extends Error {
  constructor(
    readonly kind: DriverErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

/** What the agent needs from a hypervisor. */
export interface HypervisorDriver {
  capabilities(): Promise<HostCapabilities>;
  /** Every defined or running domain, owned by Drover or not. */
  list(): Promise<DomainInfo[]>;
  /**
   * Every defined or running domain's UUID and name, without state or XML:
   * one libvirt listing instead of three calls per domain, for callers that
   * only need names (a define checking that its name is free).
   */
  names(): Promise<DomainName[]>;
  get(uuid: string): Promise<DomainInfo | undefined>;
  /** Defines (or redefines) a persistent domain from XML. */
  define(xml: string): Promise<void>;
  start(uuid: string): Promise<void>;
  /** Asks the guest to shut down (ACPI); resolves when asked, not when off. */
  shutdown(uuid: string): Promise<void>;
  /** Powers off at once. */
  destroy(uuid: string): Promise<void>;
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  /** Removes the definition; the domain must not be running. */
  undefine(uuid: string): Promise<void>;
  /** Live-migrates peer to peer; resolves when the migration finished. */
  migrate(uuid: string, options: MigrationOptions): Promise<void>;
  jobInfo(uuid: string): Promise<JobInfo>;
  abortJob(uuid: string): Promise<void>;
  /** Lifecycle events until `signal` aborts. */
  events(signal: AbortSignal): AsyncIterable<DomainEvent>;
}
