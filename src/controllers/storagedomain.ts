/**
 * StorageDomain reconciler: validates, keeps a finalizer so a domain can't be
 * deleted from under VM disks, and reports its phase. A domain with no Up
 * host to connect it stays Unattached.
 */
import { storageDomainObject, setCondition, type StorageDomainPhase, type StorageDomainStatus } from '../api/index.js';
import type { Reconciler } from '../runtime/controller.js';
import type { KubeObject } from '../kube/types.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { ensureFinalizer, isDeleting, removeFinalizer, validateOrReport, withReady } from './common.js';
import type { OperatorContext } from './context.js';

/** Names of the VMs in the namespace with a disk (or boot files) on `domain`. */
export function vmsUsingDomain(vms: KubeObject[], domain: string): string[] {
  return vms
    .filter((vm) => {
      const spec = vm.spec as { disks?: { storageDomain?: string }[]; boot?: { storageDomain?: string } } | undefined;
      return (spec?.disks ?? []).some((d) => d.storageDomain === domain) || spec?.boot?.storageDomain === domain;
    })
    .map((vm) => vm.metadata.name)
    .sort();
}

/** The StorageDomain reconciler. */
export function storageDomainReconciler(ctx: OperatorContext): Reconciler {
  return async (key) => {
    const object = ctx.informers.storageDomains.get(key);
    if (!object) return;
    const previous = (object.status ?? {}) as StorageDomainStatus;
    if (isDeleting(object)) {
      const users = vmsUsingDomain(ctx.informers.virtualMachines.list(object.metadata.namespace), object.metadata.name);
      if (users.length === 0) {
        await removeFinalizer(ctx, Resources.StorageDomain, object);
        return;
      }
      const status: StorageDomainStatus = {
        ...previous,
        conditions: setCondition(
          previous.conditions,
          { type: 'DeletionBlocked', status: 'True', reason: 'DisksInUse', message: `VMs still use this domain: ${users.join(', ')}` },
          ctx.now(),
        ),
      };
      if (await writeStatusIfChanged(ctx.client, Resources.StorageDomain, object, status)) {
        ctx.events.event(object, 'Warning', 'DeletionBlocked', `VMs still use this domain: ${users.join(', ')}`);
      }
      return;
    }
    const domain = await validateOrReport(ctx, Resources.StorageDomain, object, storageDomainObject);
    if (!domain) return;
    if (await ensureFinalizer(ctx, Resources.StorageDomain, object)) return;
    const upHosts = ctx.informers.hosts
      .list(object.metadata.namespace)
      .filter((h) => (h.status as { phase?: string } | undefined)?.phase === 'Up');
    const phase: StorageDomainPhase =
      upHosts.length === 0 ? 'Unattached' : previous.phase === undefined || previous.phase === 'Unattached' ? 'Activating' : previous.phase;
    const ready: [boolean, string, string] =
      phase === 'Active'
        ? [true, 'Active', 'the domain is active']
        : upHosts.length === 0
          ? [false, 'NoHostUp', 'no Up host to connect the domain']
          : [false, 'Activating', `connecting on ${upHosts.length} host(s)`];
    const status: StorageDomainStatus = {
      ...previous,
      observedGeneration: object.metadata.generation,
      phase,
      conditions: withReady(ctx, object, previous.conditions?.filter((c) => c.type !== 'DeletionBlocked'), ...ready),
    };
    await writeStatusIfChanged(ctx.client, Resources.StorageDomain, object, status);
  };
}
