/**
 * `<lease>`: a lock-manager lease of the whole VM. libvirt hands it to the
 * configured lock manager, which acquires it when the guest CPUs start and
 * holds it while they run (and releases it while the VM is paused).
 *
 * @packageDocumentation
 */
import type { LeaseSpec, XmlElement } from './types.js';

/** The `<lease>` element; no offset (lockd refuses any but 0, which is the default). */
export function buildLease(lease: LeaseSpec): XmlElement {
  return { lockspace: lease.lockspace, key: lease.key, target: { '@_path': lease.targetPath } };
}
