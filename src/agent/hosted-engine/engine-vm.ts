/**
 * The Manager VM on this node, through the hypervisor driver: what it is
 * doing here, and the three things the HA role does to it (start, stop,
 * migrate). libvirt stays behind the driver interface.
 *
 * Every start redefines the domain from the shared configuration first (a
 * migration takes the definition away from the source, and the
 * configuration may have changed), with the whole-VM lease of the agent's
 * lockd machinery: a second start while another QEMU holds the lease fails
 * in libvirt, which is what makes "never twice" hold whatever the timings.
 *
 * @packageDocumentation
 */
import { DriverError, type DomainInfo, type HypervisorDriver } from '../../hypervisor/driver.js';
import type { HypervisorType } from '../../hypervisor/domainxml/index.js';
import { ensureLeaseFile, vmLease, type LeaseConfig } from '../leases/index.js';
import { migrationUri, type HostedEngineConfig } from './config.js';
import { engineDomainXml } from './engine-domain.js';
import type { LocalEngine } from './state-machine.js';

/** The outcome of a start. */
export type StartOutcome = { ok: true } | { ok: false; leaseHeld: boolean; message: string };

/** Classifies the domain as the state machine needs it (see {@link LocalEngine}). */
export function localEngineOf(info: DomainInfo | undefined): Exclude<LocalEngine, 'migrating'> {
  if (info === undefined) return 'down';
  switch (info.state) {
    case 'running':
    case 'blocked':
    case 'pmsuspended':
      return 'running';
    case 'paused':
      // The incoming side of a migration, or a start before the guest CPUs run: not ours to judge yet.
      return /migrat|start/.test(info.reason ?? '') ? 'busy' : 'running';
    case 'shutdown':
      return 'busy';
    default:
      return 'down';
  }
}

/** Options of {@link EngineVm}. */
export interface EngineVmOptions {
  driver: HypervisorDriver;
  leases: LeaseConfig;
  /** `<domain dir>/hosted-engine` on this node. */
  root: string;
}

/** The Manager VM's domain on this node. */
export class EngineVm {
  constructor(private readonly o: EngineVmOptions) {}

  /** The domain here, or undefined when it is not defined here. */
  async info(config: HostedEngineConfig): Promise<DomainInfo | undefined> {
    return this.o.driver.get(config.vm.uuid);
  }

  private async hypervisor(config: HostedEngineConfig): Promise<HypervisorType> {
    if (config.vm.acceleration === 'tcg') return 'qemu';
    if (config.vm.acceleration === 'kvm') return 'kvm';
    return (await this.o.driver.capabilities()).hypervisorType;
  }

  /** Defines the domain from the configuration (with its lease) and starts it. */
  async start(config: HostedEngineConfig): Promise<StartOutcome> {
    try {
      const lease = vmLease(this.o.leases, config.vm.uuid);
      // The lease file must exist before libvirt acquires it; never replaced (another node may hold its inode).
      if (lease !== undefined) await ensureLeaseFile(lease);
      const xml = engineDomainXml(config, {
        root: this.o.root,
        hypervisor: await this.hypervisor(config),
        ...(lease !== undefined ? { lease: { lockspace: lease.lockspace, key: lease.key, targetPath: lease.targetPath } } : {}),
      });
      const existing = await this.o.driver.get(config.vm.uuid);
      if (existing !== undefined && localEngineOf(existing) !== 'down') return { ok: true };
      await this.o.driver.define(xml);
      await this.o.driver.start(config.vm.uuid);
      return { ok: true };
    } catch (error) {
      const leaseHeld = error instanceof DriverError && error.kind === 'LeaseHeld';
      return { ok: false, leaseHeld, message: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Powers the VM off at once (it failed its health check; a graceful shutdown of a sick Manager may never end). */
  async stop(config: HostedEngineConfig): Promise<void> {
    try {
      await this.o.driver.destroy(config.vm.uuid);
    } catch (error) {
      // Already off: the goal is reached.
      if (error instanceof DriverError && (error.kind === 'Conflict' || error.kind === 'NotFound')) return;
      throw error;
    }
  }

  /** Live-migrates the VM to the node at `address` (its libvirt, per the configuration's transport). */
  async migrate(config: HostedEngineConfig, address: string): Promise<void> {
    await this.o.driver.migrate(config.vm.uuid, {
      destinationURI: migrationUri(config, address),
      // Everything the VM uses is on the hosted-engine domain, which every node sees at the same path.
      unsafe: true,
      timeoutSeconds: Math.max(60, Math.round(config.timings.startTimeoutMs / 1000)),
      autoConverge: true,
    });
  }
}
