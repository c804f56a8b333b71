/**
 * `<interface>` elements: bridged NICs.
 *
 * @packageDocumentation
 */
import { buildBootOrder } from './os.js';
import type { InterfaceSpec, XmlElement } from './types.js';

/** Prefix of the libvirt user alias that carries a NIC's spec name. */
export const INTERFACE_ALIAS_PREFIX = 'ua-net-';

/** libvirt user alias of a NIC (`ua-net-<name>`), distinct from disk aliases by its prefix. */
export function interfaceAlias(name: string): string {
  return INTERFACE_ALIAS_PREFIX + name;
}

/**
 * One `<interface type='bridge'>`. The tap device name (`<target dev>`) is
 * left to libvirt: it must be unique per host, and a fixed name would clash
 * on the destination of a migration.
 */
export function buildInterface(nic: InterfaceSpec): XmlElement {
  const el: XmlElement = {
    '@_type': 'bridge',
    mac: { '@_address': nic.mac },
    source: { '@_bridge': nic.bridge },
    model: { '@_type': nic.model },
  };
  const boot = buildBootOrder(nic.bootOrder);
  if (boot !== undefined) el.boot = boot;
  el.alias = { '@_name': interfaceAlias(nic.name) };
  return el;
}

/** All `<interface>` elements, in spec order (libvirt assigns PCI slots in document order). */
export function buildInterfaces(nics: readonly InterfaceSpec[]): XmlElement[] {
  return nics.map(buildInterface);
}
