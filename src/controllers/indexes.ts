/**
 * Informer indexes the controllers look VMs up by, so an agent event, a
 * Host change or a placement does not scan every cached VM (with 2,000 VMs
 * those scans made the cold start quadratic: docs/profiles.md).
 */
import type { Informer } from '../kube/informer.js';
import type { KubeObject } from '../kube/types.js';
import { objectKey } from '../runtime/keys.js';

/** VMs by `namespace/host` of status.host. */
export const VMS_BY_HOST = 'vms-by-host';
/** VMs not Running, Migrating or Paused, by namespace: the ones a Host or Manager change may let start. */
export const VMS_UNPLACED = 'vms-unplaced';

const PLACED_PHASES = new Set(['Running', 'Migrating', 'Paused']);

/** True for a VM a Host or Manager change may let start (not Running, Migrating or Paused). */
export function unplaced(vm: KubeObject): boolean {
  return !PLACED_PHASES.has((vm.status as { phase?: string } | undefined)?.phase ?? '');
}

/** Adds {@link VMS_BY_HOST} and {@link VMS_UNPLACED} to the VM informer. */
export function addVmIndexes(vms: Informer): void {
  vms.addIndex(VMS_BY_HOST, (o) => {
    const host = (o.status as { host?: string } | undefined)?.host;
    return host ? [objectKey(o.metadata.namespace, host)] : [];
  });
  vms.addIndex(VMS_UNPLACED, (o) => (unplaced(o) ? [o.metadata.namespace ?? ''] : []));
}
