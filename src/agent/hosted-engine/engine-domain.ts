/**
 * The Manager VM's libvirt domain, pure: the shared configuration and this
 * node's facts (where the hosted-engine directory is, the domain type, the
 * VM's lease) → domain XML. The domain is the same on every node: fixed
 * name, the configuration's UUID and MAC.
 *
 * It deliberately carries no Drover ownership record: it is not a Drover
 * VM, so the agent's VM service (which only touches domains with the
 * record) and the operator leave it alone. Its own `<metadata>` element,
 * in a namespace of its own, names the configuration version it was built
 * from.
 *
 * @packageDocumentation
 */
import path from 'node:path';
import { buildDomainXml, type DomainSpec, type HypervisorType, type LeaseSpec, type XmlElement } from '../../hypervisor/domainxml/index.js';
import { ENGINE_DOMAIN_NAME, type HostedEngineConfig } from './config.js';

/** XML namespace of the hosted-engine record in the Manager VM's `<metadata>`. */
export const HOSTED_ENGINE_XMLNS = 'https://drover.io/xmlns/hosted-engine/v1alpha1';

/** What the domain needs from the node building it. */
export interface EngineDomainContext {
  /** Absolute path of `<domain dir>/hosted-engine` on this node. */
  root: string;
  hypervisor: HypervisorType;
  /** The whole-VM lease (lockd), when this node has one to give. */
  lease?: LeaseSpec;
}

/** The domain spec of the Manager VM. */
export function engineDomainSpec(config: HostedEngineConfig, ctx: EngineDomainContext): DomainSpec {
  const vm = config.vm;
  const file = (rel: string) => path.join(ctx.root, rel);
  const spec: DomainSpec = {
    uid: vm.uuid,
    name: ENGINE_DOMAIN_NAME,
    title: 'Drover self-hosted Manager',
    // Required by the spec type; replaced below by the hosted-engine record (no Drover ownership).
    owner: { namespace: 'hosted-engine', name: ENGINE_DOMAIN_NAME },
    hypervisor: ctx.hypervisor,
    cpu: { mode: 'host-model', cores: vm.cores },
    memoryMiB: vm.memoryMiB,
    disks: vm.diskImage === undefined ? [] : [{ name: 'disk', path: file(vm.diskImage), format: vm.diskImage.endsWith('.qcow2') ? 'qcow2' : 'raw', bus: 'virtio', bootOrder: 1 }],
    interfaces: [{ name: 'mgmt', bridge: vm.bridge, mac: vm.mac, model: 'virtio' }],
    // The instance that lost its lease stops at once: the Manager must never run twice.
    onLockFailure: 'poweroff',
  };
  if (vm.kernel !== undefined) {
    spec.boot = { kernel: file(vm.kernel) };
    if (vm.initrd !== undefined) spec.boot.initrd = file(vm.initrd);
    if (vm.cmdline !== undefined) spec.boot.cmdline = vm.cmdline;
  }
  if (ctx.lease !== undefined) spec.lease = ctx.lease;
  return spec;
}

/** The hosted-engine record that replaces Drover's ownership record. */
function engineMetadata(config: HostedEngineConfig): XmlElement {
  return { 'he:hostedEngine': { '@_xmlns:he': HOSTED_ENGINE_XMLNS, 'he:configVersion': config.version } };
}

/** The Manager VM's domain XML. @throws InvalidDomainSpecError for a spec libvirt must not see. */
export function engineDomainXml(config: HostedEngineConfig, ctx: EngineDomainContext): string {
  return buildDomainXml(engineDomainSpec(config, ctx), { metadata: engineMetadata(config) });
}
