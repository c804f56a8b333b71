/**
 * StorageDomain reconciler: connects the domain on every host whose agent
 * answers (and that is not in maintenance), formats it on first activation
 * (the domain's UUID is the object's UID, written into its metadata), and
 * reports capacity and per-host connectivity. Phases: Unattached (no host
 * to connect it yet), Activating (connecting; failures named per host),
 * Active, Inactive (it was active but no host reaches it now).
 *
 * Deletion waits while VMs still have disks on the domain, naming them;
 * then the domain is disconnected from the hosts (data stays on the storage).
 */
import { AgentApiError, type StorageConnectionBody, type StorageDomainStatusResponse } from '../api/agent/index.js';
import {
  setCondition,
  storageDomainObject,
  type StorageDomain,
  type StorageDomainPhase,
  type StorageDomainStatus,
} from '../api/index.js';
import type { KubeObject } from '../kube/types.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import { objectKey } from '../runtime/keys.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { ensureFinalizer, isDeleting, removeFinalizer, validateOrReport, withReady } from './common.js';
import type { OperatorContext } from './context.js';
import { errorMessage } from '../runtime/errors.js';
import { quietOnStale } from './stale.js';

/** Retry delay while some host failed to connect (a missing path won't appear by itself quickly). */
const RETRY_MS = 10_000;

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

/** The agent's connection body for a domain spec. */
export function connectionOf(domain: StorageDomain): StorageConnectionBody {
  const s = domain.spec;
  if (s.type === 'NFS') return { type: 'NFS', server: s.nfs!.server, path: s.nfs!.path, ...(s.nfs!.mountOptions ? { mountOptions: s.nfs!.mountOptions } : {}) };
  if (s.type === 'PosixFS') {
    return {
      type: 'PosixFS',
      path: s.posix!.path,
      ...(s.posix!.vfsType ? { vfsType: s.posix!.vfsType } : {}),
      ...(s.posix!.mountOptions ? { mountOptions: s.posix!.mountOptions } : {}),
    };
  }
  return { type: 'LocalFS', path: s.local!.path };
}

/** A byte count as a Kubernetes quantity in Mi. */
function mebibytes(bytes: number): string {
  return `${Math.floor(bytes / (1024 * 1024))}Mi`;
}

/** The StorageDomain reconciler. */
export function storageDomainReconciler(ctx: OperatorContext): Reconciler {
  return quietOnStale(async (key) => {
    const object = ctx.informers.storageDomains.get(key);
    if (!object) return;
    const previous = (object.status ?? {}) as StorageDomainStatus;
    const namespace = object.metadata.namespace;
    if (isDeleting(object)) return deleteDomain(ctx, object, previous);
    const domain = await validateOrReport(ctx, Resources.StorageDomain, object, storageDomainObject);
    if (!domain) return;
    if (await ensureFinalizer(ctx, Resources.StorageDomain, object)) return;

    const name = object.metadata.name;
    const uuid = object.metadata.uid ?? '';
    const connection = connectionOf(domain);
    // Hosts that should have the domain: answering, not in maintenance, and for LocalFS only its own host.
    const eligible = ctx.informers.hosts.list(namespace).filter((h) => {
      if ((h.spec as { maintenance?: boolean }).maintenance) return false;
      if (domain.spec.type === 'LocalFS' && domain.spec.local!.host !== h.metadata.name) return false;
      return ctx.agents.link(objectKey(namespace, h.metadata.name))?.state === 'Connected';
    });

    const hosts: NonNullable<StorageDomainStatus['hosts']> = [];
    const failures: string[] = [];
    let capacity: StorageDomainStatusResponse['capacity'];
    let domainUUID = previous.domainUUID;
    let changed = false;
    for (const h of eligible) {
      const hostKey = objectKey(namespace, h.metadata.name);
      const link = ctx.agents.link(hostKey);
      const client = ctx.agents.client(hostKey);
      if (!client) continue;
      let seen = link?.storage?.find((s) => s.name === name);
      try {
        if (!seen?.connected) {
          seen = await client.connectStorageDomain(name, connection);
          changed = true;
        }
        if (!seen.metadata) {
          // Format once, on the first host that connects; other hosts then see the metadata.
          try {
            await client.formatStorageDomain(name, { uuid, role: domain.spec.role });
            ctx.events.event(object, 'Normal', 'Formatted', `formatted by ${h.metadata.name} (uuid ${uuid})`);
          } catch (error) {
            if (!(error instanceof AgentApiError && error.reason === 'AlreadyFormatted')) throw error;
          }
          seen = await client.getStorageDomain(name);
          changed = true;
        }
        if (seen.metadata && seen.metadata.uuid !== uuid) {
          throw new Error(`the storage at this path belongs to another domain (uuid ${seen.metadata.uuid}, name ${seen.metadata.name})`);
        }
        domainUUID = seen.metadata?.uuid ?? domainUUID;
        capacity ??= seen.capacity;
        const ok = seen.health?.ok !== false;
        hosts.push({
          name: h.metadata.name,
          connected: ok,
          ...(seen.health?.error ? { message: seen.health.error } : {}),
          ...(seen.health ? { readLatencySeconds: Math.round(seen.health.readLatencyMs) / 1000, lastCheckTime: seen.health.checkedAt } : {}),
        });
        if (!ok) failures.push(`${h.metadata.name}: ${seen.health?.error ?? 'health check failed'}`);
      } catch (error) {
        const message = errorMessage(error);
        hosts.push({ name: h.metadata.name, connected: false, message });
        failures.push(`${h.metadata.name}: ${message}`);
      }
    }
    if (changed) await Promise.all(eligible.map((h) => ctx.agents.refresh(objectKey(namespace, h.metadata.name))));

    const connectedCount = hosts.filter((h) => h.connected).length;
    let phase: StorageDomainPhase;
    let ready: [boolean, string, string];
    if (eligible.length === 0) {
      phase = previous.phase === 'Active' || previous.phase === 'Inactive' ? 'Inactive' : 'Unattached';
      ready = [false, 'NoHostUp', 'no answering host to connect the domain'];
    } else if (failures.length === 0 && connectedCount === eligible.length) {
      phase = 'Active';
      ready = [true, 'Active', `connected on ${hosts.map((h) => h.name).join(', ')}`];
    } else if (previous.phase === 'Active' && connectedCount > 0) {
      // Hosts that lose it go NonOperational; the domain stays Active while anyone reaches it.
      phase = 'Active';
      ready = [true, 'PartiallyConnected', `not reachable from ${failures.join('; ')}`];
    } else {
      phase = previous.phase === 'Active' ? 'Inactive' : 'Activating';
      ready = [false, 'ActivationFailed', `could not connect: ${failures.join('; ')}`];
    }

    const status: StorageDomainStatus = {
      ...previous,
      observedGeneration: object.metadata.generation,
      phase,
      hosts: hosts.sort((a, b) => a.name.localeCompare(b.name)),
      ...(domainUUID ? { domainUUID } : {}),
      ...(capacity ? { capacity: { total: mebibytes(capacity.totalBytes), free: mebibytes(capacity.freeBytes) } } : {}),
    };
    let conditions = status.conditions?.filter((c) => c.type !== 'DeletionBlocked');
    if (capacity && capacity.totalBytes > 0) {
      const freePercent = (100 * capacity.freeBytes) / capacity.totalBytes;
      const low = freePercent < domain.spec.warningLowSpacePercent;
      conditions = setCondition(
        conditions,
        {
          type: 'LowSpace',
          status: low ? 'True' : 'False',
          reason: low ? 'BelowThreshold' : 'AsExpected',
          message: `${freePercent.toFixed(1)}% free (warning below ${domain.spec.warningLowSpacePercent}%)`,
          observedGeneration: object.metadata.generation,
        },
        ctx.now(),
      );
    }
    status.conditions = withReady(ctx, object, conditions, ...ready);
    if ((await writeStatusIfChanged(ctx.client, Resources.StorageDomain, object, status)) && previous.phase !== phase) {
      ctx.events.event(object, ready[0] ? 'Normal' : 'Warning', phase, `StorageDomain is ${phase}: ${ready[2]}`);
    }
    return failures.length > 0 ? ({ requeueAfter: RETRY_MS } satisfies ReconcileResult) : undefined;
  });
}

/** Deletion: refuse while disks live on the domain, else disconnect it from the hosts and let go. */
async function deleteDomain(ctx: OperatorContext, object: KubeObject, previous: StorageDomainStatus): Promise<void> {
  const namespace = object.metadata.namespace;
  const users = vmsUsingDomain(ctx.informers.virtualMachines.list(namespace), object.metadata.name);
  if (users.length > 0) {
    const message = `VMs still use this domain: ${users.join(', ')}`;
    const status: StorageDomainStatus = {
      ...previous,
      conditions: setCondition(previous.conditions, { type: 'DeletionBlocked', status: 'True', reason: 'DisksInUse', message }, ctx.now()),
    };
    if (await writeStatusIfChanged(ctx.client, Resources.StorageDomain, object, status)) {
      ctx.events.event(object, 'Warning', 'DeletionBlocked', message);
    }
    return;
  }
  for (const h of ctx.informers.hosts.list(namespace)) {
    const hostKey = objectKey(namespace, h.metadata.name);
    const client = ctx.agents.client(hostKey);
    if (!client || !ctx.agents.link(hostKey)?.storage?.some((s) => s.name === object.metadata.name && s.connected)) continue;
    try {
      await client.disconnectStorageDomain(object.metadata.name);
    } catch (error) {
      ctx.log.warn({ host: h.metadata.name, err: errorMessage(error) }, 'disconnecting a deleted storage domain failed');
    }
  }
  await removeFinalizer(ctx, Resources.StorageDomain, object);
}
