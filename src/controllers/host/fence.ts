/**
 * Runs the fencing step {@link fencingStep} chose for a silent host: asks the
 * other hosts whether its storage heartbeat is fresh, soft-fences, or
 * power-fences (off, confirm off, on again) through the Host's fence agent.
 */
import type { HostSpec, HostStatus, ManagerSpec } from '../../api/index.js';
import type { KubeObject } from '../../kube/types.js';
import type { FenceRequest } from '../../operator/fencing/types.js';
import { objectKey } from '../../runtime/keys.js';
import type { OperatorContext } from '../context.js';
import { FENCED_POWERED_OFF, fencingStep, powerFencingStatus, powerOnStatus, softFencingStatus, type FencingStatus } from './fencing.js';
import { observeStorageHeartbeat } from './storage-heartbeat.js';

/** How long a power-off is polled for confirmation. */
const CONFIRM_OFF_MS = 30_000;
const CONFIRM_POLL_MS = 1_000;
/** After a confirmed power-off is written, the power-on follows in the next pass. */
const POWER_ON_RECHECK_MS = 100;

/** What fencing adds to a Host's status, and when to look again. */
export interface FencingOutcome {
  fencing?: FencingStatus;
  storageHeartbeat?: HostStatus['storageHeartbeat'];
  recheckMs?: number;
}

/** The fence request for `host`, with credentials from its Secret. */
async function fenceRequest(ctx: OperatorContext, object: KubeObject, spec: HostSpec, action: FenceRequest['action']): Promise<FenceRequest> {
  const pm = spec.powerManagement!;
  const request: FenceRequest = { host: object.metadata.name, agent: pm.agent, action };
  if (pm.address) request.address = pm.address;
  if (pm.port) request.port = pm.port;
  if (pm.options) request.options = pm.options;
  if (pm.credentialsSecretRef && object.metadata.namespace) {
    const data = await ctx.readSecret(object.metadata.namespace, pm.credentialsSecretRef.name);
    if (!data) throw new Error(`credentials Secret ${pm.credentialsSecretRef.name} not found`);
    if (data['username'] !== undefined) request.username = data['username'];
    if (data['password'] !== undefined) request.password = data['password'];
  }
  return request;
}

/** The other hosts' links as fencing saw them: state and heartbeat age (ms). */
function peerLinks(ctx: OperatorContext, namespace: string | undefined, hosts: KubeObject[], self: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of hosts) {
    if (h.metadata.name === self) continue;
    const link = ctx.agents.link(objectKey(namespace, h.metadata.name));
    const age = link?.lastHeartbeat ? ctx.now().getTime() - link.lastHeartbeat.getTime() : undefined;
    out[h.metadata.name] = `${link?.state ?? 'no link'}, last heartbeat ${age === undefined ? 'never' : `${age} ms ago`}`;
  }
  return out;
}

/**
 * Power-fences: off, then waits until the agent says off. Powering on again
 * is the next pass's step, once Fenced is written ({@link FENCED_POWERED_OFF}).
 */
async function powerFence(ctx: OperatorContext, object: KubeObject, spec: HostSpec): Promise<{ fenced: boolean; message: string }> {
  const off = await ctx.fencing.run(await fenceRequest(ctx, object, spec, 'off'));
  if (!off.ok) return { fenced: false, message: off.message };
  const deadline = Date.now() + CONFIRM_OFF_MS;
  let status = await ctx.fencing.run(await fenceRequest(ctx, object, spec, 'status'));
  while (!(status.ok && status.power === 'off') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, CONFIRM_POLL_MS));
    status = await ctx.fencing.run(await fenceRequest(ctx, object, spec, 'status'));
  }
  if (!(status.ok && status.power === 'off')) return { fenced: false, message: `power-off not confirmed: ${status.message}` };
  return { fenced: true, message: 'powered off (confirmed)' };
}

/**
 * Fencing for one Host reconcile.
 *
 * @param up the agent answers
 * @param phase the phase connectivity gave the host
 */
export async function reconcileFencing(
  ctx: OperatorContext,
  object: KubeObject,
  spec: HostSpec,
  previous: HostStatus,
  up: boolean,
  phase: string | undefined,
  settings: ManagerSpec,
): Promise<FencingOutcome> {
  const namespace = object.metadata.namespace;
  const hosts = ctx.informers.hosts.list(namespace);
  // Silent for more than half the NonResponsive timeout, from the links (Host
  // phases lag behind): hosts cut off at the same moment as this one count,
  // even if their own NonResponsive is a second away.
  const silentAfterMs = (settings.availability.nonResponsiveAfterSeconds * 1000) / 2;
  const silentOthers = hosts.filter((h) => {
    if (h.metadata.name === object.metadata.name) return false;
    const last = ctx.agents.link(objectKey(namespace, h.metadata.name))?.lastHeartbeat?.getTime();
    return last !== undefined && ctx.now().getTime() - last > silentAfterMs;
  }).length;
  let storageHeartbeat: HostStatus['storageHeartbeat'];
  if (!up && phase === 'NonResponsive') {
    storageHeartbeat = await observeStorageHeartbeat(
      ctx,
      namespace,
      object.metadata.name,
      settings.availability.storageHeartbeatTimeoutSeconds,
      settings.availability.heartbeatIntervalSeconds * 2_000,
    );
    // No peer could be asked this pass (say, the one that vouched for it answered its own heartbeat late on a
    // busy machine): a fresh view from moments ago still stands until the heartbeat timeout says otherwise,
    // rather than "unknown" sending a live host to be fenced in between two fresh observations.
    const last = previous.storageHeartbeat;
    const lastAgeMs = last?.observedTime !== undefined ? ctx.now().getTime() - Date.parse(last.observedTime) : Infinity;
    if (storageHeartbeat === undefined && last?.fresh === true && lastAgeMs < settings.availability.storageHeartbeatTimeoutSeconds * 1000) {
      storageHeartbeat = last;
    }
  }
  const pm = spec.powerManagement;
  const step = fencingStep({
    up,
    phase,
    everAnswered: ctx.agents.link(objectKey(namespace, object.metadata.name))?.lastHeartbeat !== undefined || previous.lastHeartbeatTime !== undefined,
    previous: previous.fencing,
    powerManagement: pm ? { enabled: pm.enabled, agent: pm.agent } : undefined,
    softFencingSupported: pm ? ctx.fencing.supports(pm.agent, 'restart-agent') : false,
    availability: settings.availability,
    storageHeartbeatFresh: storageHeartbeat?.fresh,
    hostsTotal: hosts.length,
    hostsSilent: silentOthers + (up ? 0 : 1),
    leaderSince: ctx.leaderSince,
    now: ctx.now(),
  });
  const out: FencingOutcome = storageHeartbeat ? { storageHeartbeat } : {};
  if (step.kind === 'soft' || step.kind === 'power') {
    // The evidence a fencing decision was made on, for the post-mortem of a host fenced that should not have been.
    ctx.log.warn(
      { host: object.metadata.name, namespace, step: step.kind, observed: storageHeartbeat ?? null, previousObservation: previous.storageHeartbeat ?? null, previousFencing: previous.fencing ?? null, hostsSilent: silentOthers + (up ? 0 : 1), hostsTotal: hosts.length, peers: peerLinks(ctx, namespace, hosts, object.metadata.name) },
      'fencing host',
    );
  }
  switch (step.kind) {
    case 'none':
      out.fencing = step.status ?? previous.fencing;
      return out;
    case 'hold':
      out.fencing = step.status;
      if (step.recheckMs !== undefined) out.recheckMs = step.recheckMs;
      return out;
    case 'soft': {
      const result = await ctx.fencing.run(await fenceRequest(ctx, object, spec, 'restart-agent')).catch((e: Error) => ({ ok: false, message: e.message }));
      out.fencing = softFencingStatus(previous.fencing, ctx.now(), result.ok, result.message);
      ctx.events.event(object, 'Warning', 'SoftFencing', out.fencing.message ?? 'soft fencing');
      out.recheckMs = settings.availability.softFencingTimeoutSeconds * 1000 + 50;
      return out;
    }
    case 'power': {
      const result = await powerFence(ctx, object, spec).catch((e: Error) => ({ fenced: false, message: e.message }));
      out.fencing = powerFencingStatus(previous.fencing, ctx.now(), step.attempt, result);
      ctx.events.event(object, 'Warning', result.fenced ? 'Fenced' : 'FencingFailed', result.message);
      // Fenced: written in this pass, powered on in the next (the status write brings it at once).
      out.recheckMs = result.fenced ? POWER_ON_RECHECK_MS : 30_000;
      return out;
    }
    case 'powerOn': {
      // Off is the proof; powering on again is oVirt's "restart" and may fail without undoing it.
      const on = await ctx.fencing.run(await fenceRequest(ctx, object, spec, 'on')).catch((e: Error) => ({ ok: false, message: e.message }));
      out.fencing = powerOnStatus(previous.fencing!, ctx.now(), on);
      ctx.events.event(object, on.ok ? 'Normal' : 'Warning', on.ok ? 'PoweredOn' : 'PowerOnFailed', out.fencing.message ?? '');
      return out;
    }
  }
}
