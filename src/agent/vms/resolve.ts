/**
 * Agent-level VM spec → hypervisor-level DomainSpec: storage names become
 * paths through the StorageManager (which alone knows where a domain is
 * mounted and refuses traversal), and `acceleration` becomes a domain type
 * from the host's capabilities. Nothing here changes anything (except that
 * the lease provider may create the VM's empty lease file).
 */
import { AgentApiError, type VmSpec } from '../../api/agent/index.js';
import type { DomainSpec, HypervisorType, LeaseSpec } from '../../hypervisor/domainxml/index.js';
import type { StorageManager } from '../storage/types.js';
import { errorKind } from '../server/errors.js';

/** What resolving needs. */
export interface ResolveContext {
  storage: StorageManager;
  /** The host's best domain type ('kvm' when KVM works). */
  hostHypervisorType: () => Promise<HypervisorType>;
  /**
   * The whole-VM lease this host gives the domain, if any (see
   * src/agent/leases/vm-lease.ts; it makes sure the lease file exists).
   */
  vmLease?: (uid: string) => Promise<LeaseSpec | undefined>;
}

/**
 * The libvirt CPU mode for a requested model. Unset means host-model (not
 * passthrough): libvirt pins a named model at start, which a destination with
 * a different but compatible CPU can still provide, so VMs migrate.
 */
export function cpuMode(model: string | undefined): Pick<DomainSpec['cpu'], 'mode' | 'model'> {
  if (model === undefined || model === 'host-model') return { mode: 'host-model' };
  if (model === 'host-passthrough') return { mode: 'host-passthrough' };
  return { mode: 'custom', model };
}

/** The domain type for a requested acceleration on this host. */
async function hypervisorFor(acceleration: VmSpec['acceleration'], ctx: ResolveContext): Promise<HypervisorType> {
  if (acceleration === 'tcg') return 'qemu';
  const host = await ctx.hostHypervisorType();
  if (acceleration === 'kvm' && host !== 'kvm') {
    throw new AgentApiError(422, 'KvmUnavailable', 'acceleration: kvm was requested but KVM is not usable on this host', 'acceleration');
  }
  return host;
}

/**
 * Errors from a storage lookup of a request field: a storage "not found" or
 * a rejected path is the request's fault (400, naming the field); outages
 * keep their own kind (503/500).
 */
function fieldError(error: unknown, field: string, reason: 'VolumeNotFound' | 'FileNotFound'): unknown {
  const kind = errorKind(error);
  const message = error instanceof Error ? error.message : String(error);
  if (kind === 'NotFound' || kind === 'InvalidSpec') return new AgentApiError(400, reason, `${field}: ${message}`, field);
  if (kind !== undefined) return error;
  // Without a kind, a failed file lookup is a missing or unreadable file named by the request.
  return reason === 'FileNotFound' ? new AgentApiError(400, reason, `${field}: ${message}`, field) : error;
}

/** Resolves `spec` for the domain `uid`. Throws AgentApiError 400/422 naming the field at fault. */
export async function resolveVmSpec(uid: string, spec: VmSpec, ctx: ResolveContext): Promise<DomainSpec> {
  const connected = new Set((await ctx.storage.list()).filter((d) => d.connected).map((d) => d.name));
  const requireConnected = (domain: string, field: string): void => {
    if (!connected.has(domain)) {
      throw new AgentApiError(400, 'StorageDomainNotConnected', `${field}: storage domain "${domain}" is not connected on this host`, field);
    }
  };

  const disks: DomainSpec['disks'] = [];
  for (const [i, d] of spec.disks.entries()) {
    requireConnected(d.domain, `disks[${i}].domain`);
    const field = `disks[${i}].volume`;
    const volume = await ctx.storage.getVolume(d.domain, d.volume).catch((e: unknown) => {
      throw fieldError(e, field, 'VolumeNotFound');
    });
    if (volume === undefined) {
      throw new AgentApiError(400, 'VolumeNotFound', `${field}: volume "${d.volume}" does not exist on storage domain "${d.domain}"`, field);
    }
    const disk: DomainSpec['disks'][number] = { name: d.name, path: volume.path, format: volume.format, bus: d.bus };
    if (d.bootOrder !== undefined) disk.bootOrder = d.bootOrder;
    if (d.readOnly !== undefined) disk.readOnly = d.readOnly;
    disks.push(disk);
  }

  let boot: DomainSpec['boot'];
  if (spec.boot !== undefined) {
    const b = spec.boot;
    requireConnected(b.domain, 'boot.domain');
    const resolve = (rel: string, field: string) =>
      ctx.storage.resolveFile(b.domain, rel).catch((e: unknown) => {
        throw fieldError(e, field, 'FileNotFound');
      });
    boot = { kernel: await resolve(b.kernel, 'boot.kernel') };
    if (b.initrd !== undefined) boot.initrd = await resolve(b.initrd, 'boot.initrd');
    if (b.cmdline !== undefined) boot.cmdline = b.cmdline;
  }

  const hypervisor = await hypervisorFor(spec.acceleration, ctx);
  const domain: DomainSpec = {
    uid,
    name: spec.name,
    title: `${spec.owner.namespace}/${spec.owner.name}`,
    owner: { namespace: spec.owner.namespace, name: spec.owner.name },
    generation: spec.generation,
    hypervisor,
    cpu: { ...cpuMode(spec.cpu.model), cores: spec.cpu.cores, sockets: spec.cpu.sockets, threads: spec.cpu.threads },
    memoryMiB: spec.memoryMiB,
    disks,
    interfaces: spec.nics.map((n) => ({ name: n.name, bridge: n.bridge, mac: n.mac, model: n.model })),
  };
  if (boot !== undefined) domain.boot = boot;
  if (spec.onLockFailure !== undefined) domain.onLockFailure = spec.onLockFailure;
  const lease = await ctx.vmLease?.(uid);
  if (lease !== undefined) domain.lease = lease;
  return domain;
}
