/**
 * What the agent reports about a domain, and whether it is Drover's. A
 * domain is Drover's only when its XML carries Drover's metadata with an
 * owner; anything else is an orphan: listed, never touched.
 */
import type { VmInfo } from '../../api/agent/index.js';
import { parseDomainXml, type ParsedDomain } from '../../hypervisor/domainxml/index.js';
import type { DomainInfo } from '../../hypervisor/driver.js';

/** The parsed XML of a domain, or undefined when it cannot be read (then it is not Drover's). */
export function parseOrUndefined(xml: string): ParsedDomain | undefined {
  try {
    return parseDomainXml(xml);
  } catch {
    return undefined;
  }
}

/** True when the domain carries Drover's ownership record. */
export function isOwned(info: DomainInfo): boolean {
  return parseOrUndefined(info.xml)?.owner !== undefined;
}

/** The API view of a domain. */
export function describeDomain(info: DomainInfo): VmInfo {
  const parsed = parseOrUndefined(info.xml);
  const vm: VmInfo = {
    uid: info.uuid.toLowerCase(),
    name: info.name,
    state: info.state,
    persistent: info.persistent,
    owned: parsed?.owner !== undefined,
    // Observed by the lease inspector when the answer is sent (src/agent/leases/held.ts).
    leaseProtected: false,
  };
  if (info.reason !== undefined) vm.reason = info.reason;
  if (parsed === undefined) return vm;
  if (parsed.owner !== undefined) vm.owner = { ...parsed.owner };
  if (parsed.specHash !== undefined) vm.specHash = parsed.specHash;
  if (parsed.generation !== undefined) vm.generation = parsed.generation;
  vm.vcpus = parsed.vcpus;
  vm.memoryMiB = parsed.memoryMiB;
  vm.disks = parsed.disks.map((d) => {
    const disk: NonNullable<VmInfo['disks']>[number] = { target: d.target, readOnly: d.readOnly };
    if (d.name !== undefined) disk.name = d.name;
    if (d.path !== undefined) disk.path = d.path;
    return disk;
  });
  vm.nics = parsed.interfaces.map((n) => {
    const nic: NonNullable<VmInfo['nics']>[number] = { mac: n.mac };
    if (n.name !== undefined) nic.name = n.name;
    if (n.bridge !== undefined) nic.bridge = n.bridge;
    return nic;
  });
  return vm;
}

export { isActive } from '../../api/agent/vms.js';
