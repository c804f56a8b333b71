/**
 * Host maintenance: live-migrate every VM away, highest HA priority first,
 * through VirtualMachineMigration objects (so limits, progress and records
 * are the same as for migrations people ask for), then report Maintenance.
 * A VM that cannot migrate blocks the drain and is named (drainPolicy
 * Block), or is shut down so it can start elsewhere (drainPolicy Stop).
 * Setting maintenance back to false deletes the unfinished drain migrations,
 * which cancels them.
 */
import { createHash } from 'node:crypto';
import { isActive, MAX_STOP_TIMEOUT_SECONDS } from '../../api/agent/index.js';
import { API_VERSION, type Host, type MigrationStatus, type VirtualMachineStatus } from '../../api/index.js';
import type { KubeObject } from '../../kube/types.js';
import { objectKey } from '../../runtime/keys.js';
import { Resources } from '../../operator/resources.js';
import type { OperatorContext } from '../context.js';
import { occupies } from '../vm/placement.js';

/** Label naming the Host a drain migration empties. */
export const DRAIN_HOST_LABEL = 'drover.io/drain-host';
/** Label with the Host generation that asked for the drain (a new maintenance round gets new migrations). */
export const DRAIN_GENERATION_LABEL = 'drover.io/drain-generation';

/** Where a drain stands. */
export interface DrainProgress {
  /** VMs still on the host. */
  remaining: string[];
  /** VMs that cannot leave, with why. */
  blocked: { vm: string; why: string }[];
  /** Migrations created by this pass. */
  created: string[];
  /** VMs shut down by this pass (drainPolicy Stop). */
  stopped: string[];
}

/** Drain migrations tried per VM and maintenance round before the VM counts as blocked. */
export const MAX_DRAIN_ATTEMPTS = 3;

/** Name of drain attempt `attempt` (1-based) of `vm` off `host` for maintenance round `generation`: a DNS label. */
export function drainMigrationName(host: string, generation: number, vm: string, attempt = 1): string {
  const name = `drain-${host}-g${generation}-${vm}${attempt > 1 ? `-a${attempt}` : ''}`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** VMs occupying the host `name`. */
export function vmsOnHost(ctx: OperatorContext, namespace: string | undefined, name: string): KubeObject[] {
  return ctx.informers.virtualMachines.list(namespace).filter((vm) => occupies(vm.status as VirtualMachineStatus | undefined, name));
}

/** Why a VM cannot be live-migrated at all (a disk or its boot files on local storage), or undefined. */
export function notMigratable(ctx: OperatorContext, vm: KubeObject): string | undefined {
  const spec = vm.spec as { disks?: { storageDomain: string }[]; boot?: { storageDomain: string } } | undefined;
  const used = [...(spec?.disks ?? []).map((d) => d.storageDomain), ...(spec?.boot ? [spec.boot.storageDomain] : [])];
  for (const domain of new Set(used)) {
    const sd = ctx.informers.storageDomains.get(objectKey(vm.metadata.namespace, domain));
    if ((sd?.spec as { type?: string } | undefined)?.type === 'LocalFS') return `uses LocalFS storage domain ${domain}`;
  }
  return undefined;
}

/** One pass of the drain of `object` (spec.maintenance is true). */
export async function drainHost(ctx: OperatorContext, object: KubeObject, host: Host): Promise<DrainProgress> {
  const namespace = object.metadata.namespace;
  const name = object.metadata.name;
  const generation = object.metadata.generation ?? 0;
  const progress: DrainProgress = { remaining: [], blocked: [], created: [], stopped: [] };
  const priority = (vm: KubeObject) => (vm.spec as { highAvailability?: { priority?: number } } | undefined)?.highAvailability?.priority ?? 50;
  const vms = vmsOnHost(ctx, namespace, name).sort((a, b) => priority(b) - priority(a) || a.metadata.name.localeCompare(b.metadata.name));
  const migrations = ctx.informers.migrations.list(namespace);
  for (const vm of vms) {
    const vmName = vm.metadata.name;
    progress.remaining.push(vmName);
    // This round's migrations of the VM, oldest attempt first.
    const attempts = migrations
      .filter((m) => m.metadata.labels?.[DRAIN_HOST_LABEL] === name && m.metadata.labels?.[DRAIN_GENERATION_LABEL] === String(generation))
      .filter((m) => (m.spec as { vmName?: string } | undefined)?.vmName === vmName)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const active = attempts.find((m) => !['Succeeded', 'Failed'].includes((m.status as MigrationStatus | undefined)?.phase ?? ''));
    const failed = attempts.filter((m) => (m.status as MigrationStatus | undefined)?.phase === 'Failed');
    let why: string | undefined = notMigratable(ctx, vm);
    if (!why && active) {
      const s = (active.status ?? {}) as MigrationStatus;
      const ready = s.conditions?.find((c) => c.type === 'Ready');
      if (s.phase === 'Pending' && ready?.reason === 'NoTargetHost') why = `no host can take it: ${ready.message}`;
    }
    if (!why && !active && failed.length >= MAX_DRAIN_ATTEMPTS) {
      const last = failed[failed.length - 1]!;
      const ready = ((last.status ?? {}) as MigrationStatus).conditions?.find((c) => c.type === 'Ready');
      why = `migration failed ${failed.length} times, last (${last.metadata.name}): ${ready?.message ?? 'no reason given'}`;
    }
    if (why) {
      if (host.spec.drainPolicy === 'Stop') {
        const client = ctx.agents.client(objectKey(namespace, name));
        // Only a domain the agent still lists as running is stopped (and announced) once.
        const domain = ctx.agents.link(objectKey(namespace, name))?.vms?.find((d) => d.uid === vm.metadata.uid);
        if (client && domain && isActive(domain)) {
          const grace = Math.min((vm.spec as { terminationGracePeriodSeconds?: number } | undefined)?.terminationGracePeriodSeconds ?? 60, MAX_STOP_TIMEOUT_SECONDS);
          await client.stopVm(vm.metadata.uid ?? '', { timeoutSeconds: grace });
          await ctx.agents.refresh(objectKey(namespace, name));
          progress.stopped.push(vmName);
          ctx.events.event(object, 'Normal', 'VMStopped', `drain (drainPolicy Stop) shut down VM ${vmName}: it ${why}`);
        }
      } else {
        progress.blocked.push({ vm: vmName, why });
      }
      continue;
    }
    if (active) continue;
    // A failed attempt (a busy host, a migration that didn't converge) is retried, up to MAX_DRAIN_ATTEMPTS.
    const migrationName = drainMigrationName(name, generation, vmName, attempts.length + 1);
    const migration: KubeObject = {
      apiVersion: API_VERSION,
      kind: 'VirtualMachineMigration',
      metadata: {
        name: migrationName,
        namespace,
        labels: { [DRAIN_HOST_LABEL]: name, [DRAIN_GENERATION_LABEL]: String(generation) },
      },
      spec: { vmName },
    };
    try {
      await ctx.client.create(Resources.VirtualMachineMigration, migration);
      progress.created.push(migrationName);
    } catch (error) {
      // Already there (a cache lagging behind our own create) is fine.
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
  return progress;
}

/** Deletes (and so cancels) the unfinished drain migrations off `host`; returns how many. */
export async function abortDrain(ctx: OperatorContext, namespace: string | undefined, host: string): Promise<number> {
  let aborted = 0;
  for (const m of ctx.informers.migrations.list(namespace)) {
    if (m.metadata.labels?.[DRAIN_HOST_LABEL] !== host || m.metadata.deletionTimestamp) continue;
    const phase = (m.status as MigrationStatus | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    if (await ctx.client.deleteObject(Resources.VirtualMachineMigration, m)) aborted += 1;
  }
  return aborted;
}
