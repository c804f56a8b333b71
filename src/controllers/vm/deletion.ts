/**
 * Deleting a VirtualMachine: stop and undefine its domain on the host it is
 * placed on, then keep or delete its disks per diskDeletionPolicy, then let
 * the object go. While the host can't confirm the domain is gone the
 * finalizer stays: a VM is never forgotten while it may still run.
 */
import { AgentApiError, isActive, MAX_STOP_TIMEOUT_SECONDS } from '../../api/agent/index.js';
import { virtualMachineObject, type VirtualMachineStatus } from '../../api/index.js';
import type { KubeObject } from '../../kube/types.js';
import type { ReconcileResult } from '../../runtime/controller.js';
import { objectKey } from '../../runtime/keys.js';
import { Resources } from '../../operator/resources.js';
import { writeStatusIfChanged } from '../../operator/status.js';
import { removeFinalizer, withReady } from '../common.js';
import type { OperatorContext } from '../context.js';
import { activeMigrationFor } from './migrations.js';
import { START_CONFIRM_MS, type BackgroundStarts } from './start.js';
import { whereabouts } from './whereabouts.js';

const WAIT_MS = 5_000;

/** Ignores "already gone" answers of idempotent deletes. */
async function gone<T>(call: Promise<T>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (error instanceof AgentApiError && (error.status === 404 || error.reason === 'VolumeNotFound')) return;
    throw error;
  }
}

/** The deletion branch of the VM reconciler. */
export async function deleteVirtualMachine(ctx: OperatorContext, object: KubeObject, starts?: BackgroundStarts): Promise<ReconcileResult | void> {
  // A copy: disks are marked deleted one by one, never in the informer cache itself.
  const status = structuredClone((object.status ?? {}) as VirtualMachineStatus);
  const namespace = object.metadata.namespace;
  const uid = object.metadata.uid ?? '';
  const waiting = async (message: string): Promise<ReconcileResult> => {
    const next = { ...status, conditions: withReady(ctx, object, status.conditions, false, 'Deleting', message) };
    await writeStatusIfChanged(ctx.client, Resources.VirtualMachine, object, next);
    return { requeueAfter: WAIT_MS };
  };

  // Every host that has (or may have) the domain: its placement, its migrations' ends, and any host listing it.
  const vmName = object.metadata.name;
  const where = whereabouts(ctx, namespace, vmName, uid, status.host);
  // Started a moment ago, and the host's list does not show it yet: look again rather than let a running domain go.
  const justStarted = starts?.unconfirmedHost(uid, START_CONFIRM_MS);
  if (justStarted !== undefined) {
    if (!where.holders.includes(justStarted)) {
      void ctx.agents.refresh(objectKey(namespace, justStarted));
      return { requeueAfter: 500 };
    }
    // Listed now: from here on the list is the truth (and the removal below is seen in it).
    starts?.confirmed(uid);
  }
  const unsure = where.unsure.filter((h) => ctx.informers.hosts.get(objectKey(namespace, h)));
  if (unsure.length > 0) return waiting(`waiting for ${unsure.join(', ')} to answer so the domain can be removed`);
  const grace = Math.min((object.spec as { terminationGracePeriodSeconds?: number } | undefined)?.terminationGracePeriodSeconds ?? 60, MAX_STOP_TIMEOUT_SECONDS);
  const migrating = activeMigrationFor(ctx, namespace, vmName) !== undefined;
  for (const host of where.holders) {
    const hostKey = objectKey(namespace, host);
    const client = ctx.agents.client(hostKey);
    const domain = ctx.agents.link(hostKey)?.vms?.find((d) => d.uid === uid);
    if (!client || !domain) continue;
    if (isActive(domain)) {
      // Mid-migration a graceful stop is refused; power off (the VM is being deleted anyway).
      await gone(grace === 0 || migrating || host !== status.host ? client.destroyVm(uid) : client.stopVm(uid, { timeoutSeconds: grace }));
    }
    await gone(client.undefineVm(uid));
    await ctx.agents.refresh(hostKey);
    ctx.events.event(object, 'Normal', 'Undefined', `domain removed from ${host}`);
  }
  if (where.holders.length > 0) {
    // Look again with fresh lists before the disks go: nothing may still run from them.
    return { requeueAfter: 500 };
  }

  const parsed = virtualMachineObject.safeParse(object);
  const policy = parsed.success ? parsed.data.spec.diskDeletionPolicy : 'Retain';
  if (policy === 'Delete') {
    for (const disk of (status.disks ?? []).filter((d) => d.created)) {
      // Any connected host that has the disk's storage domain can delete the volume.
      const hosts = ctx.informers.hosts.list(namespace).map((h) => objectKey(namespace, h.metadata.name));
      const via = hosts.find((k) => ctx.agents.link(k)?.storage?.some((s) => s.name === disk.storageDomain && s.connected) && ctx.agents.client(k));
      if (!via) return waiting(`waiting for a host connected to ${disk.storageDomain} to delete volume ${disk.volume}`);
      await gone(ctx.agents.client(via)!.deleteVolume(disk.storageDomain, disk.volume));
      ctx.events.event(object, 'Normal', 'DiskDeleted', `volume ${disk.volume} deleted from ${disk.storageDomain}`);
      // Marked in the copy: if a later disk has to wait, that status write records it, so no pass repeats it or its event.
      disk.created = false;
    }
  }
  await removeFinalizer(ctx, Resources.VirtualMachine, object);
  starts?.forget(uid);
}
