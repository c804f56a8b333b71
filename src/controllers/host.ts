/**
 * Host reconciler: keeps a link to the host's agent (the connection manager
 * heartbeats it and follows its event stream), turns what the link knows
 * into the Host's phase with oVirt's meanings, copies capabilities, usage
 * and storage connectivity into status, and runs maintenance drains.
 *
 * Phases: Installing (agent not enrolled yet), Connecting, Up,
 * NonResponsive (heartbeats missed), NonOperational (up but not connected
 * to an Active Data storage domain), PreparingForMaintenance, Maintenance,
 * Error (TLS refused).
 */
import { ConditionType, hostObject, metaTime as rfc3339, setCondition, type HostPhase, type HostStatus, type StorageDomainStatus } from '../api/index.js';
import type { KubeObject } from '../kube/types.js';
import type { HostLink } from '../operator/agents/types.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { ensureFinalizer, isDeleting, removeFinalizer, validateOrReport, withReady } from './common.js';
import type { OperatorContext } from './context.js';
import { connectivity } from './host/connectivity.js';
import { abortDrain, drainHost, vmsOnHost } from './host/drain.js';
import { powerOnAfterFence, reconcileFencing } from './host/fence.js';
import { isPowerOnPending } from './host/fencing.js';
import { linkForming, managerSettings } from './namespace.js';
import { StatusCoalescer } from './coalesce.js';
import { quietOnStale } from './stale.js';
import { reconcileCertificate } from './host-certificate.js';


/** Facts the link reports, in Host status form. */
function linkFacts(link: HostLink | undefined, previous: HostStatus): Partial<HostStatus> {
  if (!link) return {};
  const facts: Partial<HostStatus> = {};
  const c = link.capabilities;
  if (c) {
    facts.capabilities = {
      cpu: { model: c.cpu.model, vendor: c.cpu.vendor, sockets: c.cpu.sockets, cores: c.cpu.cores, threads: c.cpu.threads },
      memoryBytes: Math.floor(c.memoryBytes),
      hypervisorType: c.hypervisorType,
      libvirtVersion: c.libvirtVersion,
      qemuVersion: c.qemuVersion,
      agentVersion: c.agentVersion,
      hostUUID: c.hostUUID,
      ...(c.cpuModels ? { cpuModels: c.cpuModels } : {}),
    };
  }
  if (link.stats) {
    facts.usage = {
      cpuPercent: Math.round(link.stats.cpuUsagePercent),
      memoryFreeBytes: Math.floor(link.stats.memory.availableBytes),
      load1: Math.round(link.stats.loadAverage.one * 100) / 100,
      runningVMs: link.stats.runningVMs,
    };
  }
  if (link.lastHeartbeat) facts.lastHeartbeatTime = rfc3339(link.lastHeartbeat);
  if (link.bootId) facts.agentBootId = link.bootId;
  if (link.storage) {
    facts.storageDomains = link.storage
      .map((s) => ({
        name: s.name,
        connected: s.connected && s.health?.ok !== false,
        ...(s.health?.error ? { message: s.health.error } : {}),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  } else if (previous.storageDomains) {
    facts.storageDomains = previous.storageDomains;
  }
  return facts;
}

/** Active Data domains this host must reach but doesn't (LocalFS domains only bind their own host). */
function unreachableDomains(ctx: OperatorContext, object: KubeObject, connected: Set<string>): string[] {
  return ctx.informers.storageDomains
    .list(object.metadata.namespace)
    .filter((d) => (d.status as StorageDomainStatus | undefined)?.phase === 'Active')
    .filter((d) => ((d.spec as { role?: string }).role ?? 'Data') === 'Data')
    .filter((d) => {
      const spec = d.spec as { type?: string; local?: { host?: string } };
      return spec.type !== 'LocalFS' || spec.local?.host === object.metadata.name;
    })
    .map((d) => d.metadata.name)
    .filter((name) => !connected.has(name))
    .sort();
}

/** Host status fields that move with every heartbeat or domain event: written at most once per heartbeat interval. */
const HEARTBEAT_FIELDS = ['lastHeartbeatTime', 'usage'] as const;

/** The Host reconciler. */
export function hostReconciler(ctx: OperatorContext): Reconciler {
  const coalescer = new StatusCoalescer();
  return quietOnStale(async (key) => {
    const object = ctx.informers.hosts.get(key);
    if (!object) {
      ctx.agents.forget(key);
      coalescer.forget(key);
      return;
    }
    const namespace = object.metadata.namespace;
    const previous = (object.status ?? {}) as HostStatus;
    if (isDeleting(object)) {
      const here = vmsOnHost(ctx, namespace, object.metadata.name).map((v) => v.metadata.name).sort();
      if (here.length > 0) {
        const message = `VMs still run on this host: ${here.join(', ')}; put it in maintenance first`;
        const status: HostStatus = {
          ...previous,
          conditions: setCondition(previous.conditions, { type: 'DeletionBlocked', status: 'True', reason: 'VMsRunning', message }, ctx.now()),
        };
        if (await writeStatusIfChanged(ctx.client, Resources.Host, object, status)) ctx.events.event(object, 'Warning', 'DeletionBlocked', message);
        return;
      }
      ctx.agents.forget(key);
      await removeFinalizer(ctx, Resources.Host, object);
      return;
    }
    const host = await validateOrReport(ctx, Resources.Host, object, hostObject);
    if (!host) return;
    if (await ensureFinalizer(ctx, Resources.Host, object)) return;

    const settings = managerSettings(ctx, namespace);
    ctx.agents.ensure({
      namespace: namespace ?? 'default',
      name: object.metadata.name,
      address: host.spec.address,
      port: host.spec.port,
      heartbeatIntervalMs: settings.availability.heartbeatIntervalSeconds * 1000,
      ...(previous.certificate?.notBefore !== undefined ? { certificateIssuedNotBefore: previous.certificate.notBefore } : {}),
    });
    const link = ctx.agents.link(key);
    const now = ctx.now();
    const status: HostStatus = { ...previous, ...linkFacts(link, previous), observedGeneration: object.metadata.generation };
    const conn = connectivity({
      link,
      previous,
      address: host.spec.address,
      port: host.spec.port,
      nonResponsiveAfterMs: settings.availability.nonResponsiveAfterSeconds * 1000,
      now,
      createdAt: object.metadata.creationTimestamp,
      forming: linkForming(ctx, namespace, object.metadata.name),
    });

    let phase: HostPhase;
    let ready: [boolean, string, string];
    let result: ReconcileResult | void = undefined;
    const wasDraining = previous.phase === 'PreparingForMaintenance' || previous.phase === 'Maintenance';
    status.conditions = setCondition(
      status.conditions,
      conn.up
        ? { type: ConditionType.Connected, status: 'True', reason: 'HeartbeatsAnswered', message: `agent ${link?.capabilities?.agentVersion ?? ''} answers`.replace('  ', ' ') }
        : { type: ConditionType.Connected, status: 'False', reason: conn.reason, message: conn.message },
      now,
    );

    // The Host as last written in this pass (fencing records a confirmed power-off at once).
    let written = object;
    if (host.spec.maintenance) {
      // A fence cut short by maintenance set in between still ends with its power-on.
      if (isPowerOnPending(previous.fencing)) status.fencing = await powerOnAfterFence(ctx, object, host.spec, previous.fencing);
      const progress = conn.up ? await drainHost(ctx, object, host) : undefined;
      const remaining = progress?.remaining ?? vmsOnHost(ctx, namespace, object.metadata.name).map((v) => v.metadata.name);
      if (remaining.length === 0) {
        phase = 'Maintenance';
        // What the spec asks for: Ready (GitOps tools then read the host as reconciled, not in progress).
        ready = [true, 'Maintenance', 'the host is in maintenance, as spec.maintenance asks: no VMs run here'];
        status.conditions = setCondition(status.conditions, { type: ConditionType.Drained, status: 'True', reason: 'Drained', message: 'every VM left the host' }, now);
      } else if (!conn.up) {
        phase = conn.phase;
        ready = [false, conn.reason, `maintenance requested, but ${conn.message}`];
      } else {
        phase = 'PreparingForMaintenance';
        const blocked = progress?.blocked ?? [];
        const detail = blocked.map((b) => `${b.vm} ${b.why}`).join('; ');
        ready = [false, 'PreparingForMaintenance', `migrating ${remaining.length} VM(s) away: ${remaining.join(', ')}`];
        status.conditions = setCondition(
          status.conditions,
          blocked.length > 0
            ? { type: ConditionType.Drained, status: 'False', reason: 'VMsCannotMigrate', message: `drain blocked (drainPolicy Block): ${detail}` }
            : { type: ConditionType.Drained, status: 'False', reason: 'Draining', message: `waiting for ${remaining.length} VM(s) to leave: ${remaining.join(', ')}` },
          now,
        );
        for (const m of progress?.created ?? []) ctx.events.event(object, 'Normal', 'DrainMigration', `created VirtualMachineMigration ${m}`);
        result = { requeueAfter: 2_000 };
      }
    } else {
      if (wasDraining) {
        const aborted = await abortDrain(ctx, namespace, object.metadata.name);
        ctx.events.event(object, 'Normal', 'MaintenanceEnded', aborted > 0 ? `maintenance aborted: ${aborted} drain migration(s) cancelled` : 'maintenance ended');
      }
      status.conditions = status.conditions?.filter((c) => c.type !== ConditionType.Drained);
      const fencing = await reconcileFencing(ctx, object, host.spec, previous, conn.up, conn.up ? 'Up' : conn.phase, settings);
      if (fencing.object) written = fencing.object;
      if (fencing.fencing) status.fencing = fencing.fencing;
      if (fencing.storageHeartbeat) status.storageHeartbeat = fencing.storageHeartbeat;
      else if (conn.up || conn.phase !== 'NonResponsive') delete status.storageHeartbeat;
      if (fencing.recheckMs !== undefined) result = { requeueAfter: fencing.recheckMs };
      if (!conn.up) {
        phase = conn.phase;
        const fenced = status.fencing?.state === 'Fenced' ? ` Fenced at ${status.fencing.fencedTime}: its VMs no longer run.` : '';
        ready = [false, conn.reason, `${conn.message}${fenced}`];
      } else {
        const connected = new Set((status.storageDomains ?? []).filter((d) => d.connected).map((d) => d.name));
        const missing = unreachableDomains(ctx, object, connected);
        if (missing.length > 0) {
          phase = 'NonOperational';
          const why = missing.map((m) => {
            const reported = status.storageDomains?.find((d) => d.name === m);
            return reported?.message ? `${m} (${reported.message})` : m;
          });
          ready = [false, 'StorageUnreachable', `the host cannot reach Active storage domain(s) ${why.join(', ')}`];
        } else {
          phase = 'Up';
          ready = [true, 'Up', `the agent at ${host.spec.address}:${host.spec.port} answers heartbeats`];
        }
      }
    }
    if (conn.up) {
      const cert = await reconcileCertificate(ctx, object, status);
      if (cert.recheckMs !== undefined) result = { requeueAfter: Math.min(cert.recheckMs, result?.requeueAfter ?? Infinity) };
    }
    if (!conn.up && conn.recheckMs !== undefined) result = { requeueAfter: Math.min(conn.recheckMs + 50, (result as ReconcileResult | undefined)?.requeueAfter ?? Infinity) };

    status.phase = phase;
    status.conditions = withReady(ctx, object, status.conditions, ...ready);
    // Every agent event moves the link's heartbeat time: a change of only that (and usage) waits for the heartbeat interval.
    const nowMs = now.getTime();
    const hold = coalescer.holdBack(key, previous, status, HEARTBEAT_FIELDS, settings.availability.heartbeatIntervalSeconds * 1000, nowMs);
    if (hold > 0) return { requeueAfter: Math.min(hold, result?.requeueAfter ?? Infinity) };
    const wrote = await writeStatusIfChanged(ctx.client, Resources.Host, written, status);
    if (wrote) coalescer.wrote(key, nowMs);
    if (wrote && previous.phase !== phase) {
      const warning = phase === 'NonResponsive' || phase === 'NonOperational' || phase === 'Error';
      ctx.events.event(object, warning ? 'Warning' : 'Normal', phase, `Host is ${phase}: ${ready[2]}`);
    }
    return result;
  });
}
