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
import { Resources } from '../../operator/resources.js';
import { writeStatusIfChanged } from '../../operator/status.js';
import { errorMessage } from '../../runtime/errors.js';
import { fencingStep, POWER_ON_PENDING, powerFencingStatus, powerOnStatus, softFencingStatus, type FencingStatus } from './fencing.js';
import { observeStorageHeartbeat } from './storage-heartbeat.js';

/** How long a power-off is polled for confirmation. */
const CONFIRM_OFF_MS = 30_000;
const CONFIRM_POLL_MS = 1_000;
/** After a confirmed power-off is written, the power-on follows in the next pass (brought by the write's event; this is the fallback). */
const POWER_ON_RECHECK_MS = 2_000;

/** What fencing adds to a Host's status, and when to look again. */
export interface FencingOutcome {
  fencing?: FencingStatus;
  storageHeartbeat?: HostStatus['storageHeartbeat'];
  recheckMs?: number;
  /** The Host as written during the pass (a confirmed power-off is recorded at once): the pass's own write goes on from it. */
  object?: KubeObject;
}

/**
 * Runs one fence action; every failure, reading the credentials included,
 * is an answer with a message, never a throw (a throw would fail the whole
 * Host reconcile on every pass).
 */
async function runFence(ctx: OperatorContext, object: KubeObject, spec: HostSpec, action: FenceRequest['action']): Promise<{ ok: boolean; message: string }> {
  try {
    if (!spec.powerManagement) return { ok: false, message: 'the Host has no spec.powerManagement any more' };
    return await ctx.fencing.run(await fenceRequest(ctx, object, spec, action));
  } catch (error) {
    return { ok: false, message: errorMessage(error) };
  }
}

/**
 * The power-on that ends a fence whose power-off is recorded
 * ({@link POWER_ON_PENDING}); also run for a Host put into maintenance in
 * between. A failure is not retried (the proof stands; power it on by hand).
 */
export async function powerOnAfterFence(ctx: OperatorContext, object: KubeObject, spec: HostSpec, fenced: FencingStatus): Promise<FencingStatus> {
  // Off is the proof; powering on again is oVirt's "restart" and may fail without undoing it.
  const on = await runFence(ctx, object, spec, 'on');
  const status = powerOnStatus(fenced, ctx.now(), on);
  ctx.events.event(object, on.ok ? 'Normal' : 'Warning', on.ok ? 'PoweredOn' : 'PowerOnFailed', status.message ?? '');
  return status;
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
 * is the next pass's step, once Fenced is written ({@link POWER_ON_PENDING}).
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
      const result = await runFence(ctx, object, spec, 'restart-agent');
      out.fencing = softFencingStatus(previous.fencing, ctx.now(), result.ok, result.message);
      ctx.events.event(object, 'Warning', 'SoftFencing', out.fencing.message ?? 'soft fencing');
      out.recheckMs = settings.availability.softFencingTimeoutSeconds * 1000 + 50;
      return out;
    }
    case 'power': {
      const result = await powerFence(ctx, object, spec).catch((e: Error) => ({ fenced: false, message: e.message }));
      const fencing = powerFencingStatus(previous.fencing, ctx.now(), step.attempt, result);
      ctx.events.event(object, 'Warning', result.fenced ? 'Fenced' : 'FencingFailed', result.message);
      if (!result.fenced) {
        out.fencing = fencing;
        out.recheckMs = 30_000;
        return out;
      }
      // Recorded on its own, before the power-on: VM reconcilers restart the host's VMs while it boots.
      // A record that cannot be written (a conflict, leadership lost) must not leave the host off with
      // nothing saying so: then it is powered on at once, as a fence always was.
      const written = await writeStatusIfChanged(ctx.client, Resources.Host, object, { ...(object.status ?? {}), fencing }).catch((error: unknown) => {
        ctx.log.warn({ host: object.metadata.name, namespace, err: errorMessage(error) }, 'recording the power-off failed: powering the host on now');
        return undefined;
      });
      if (written === undefined) {
        out.fencing = await powerOnAfterFence(ctx, object, spec, fencing);
        return out;
      }
      out.fencing = fencing;
      out.object = written;
      // The write's watch event brings the next pass (with a cache that has it); this is the fallback.
      out.recheckMs = POWER_ON_RECHECK_MS;
      return out;
    }
    case 'powerOn':
      out.fencing = await powerOnAfterFence(ctx, object, spec, previous.fencing!);
      return out;
  }
}
