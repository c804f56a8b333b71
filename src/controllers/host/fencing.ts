/**
 * When to fence a host that stopped answering, oVirt's way (pure; the Host
 * reconciler runs the step it returns):
 *
 * - only once the host is NonResponsive;
 * - never within `fencingGraceSeconds` of this operator becoming leader
 *   (its links are young: silence may be its own start-up);
 * - never while more than `skipFencingIfConnectivityBrokenPercent` of the
 *   hosts are silent at once (then the operator is the one cut off);
 * - never while another host still sees this host's storage heartbeat,
 *   when `skipFencingIfStorageHeartbeat` (the host is alive, partitioned
 *   from the operator: its VMs keep running there, their leases say so);
 * - soft fencing first (restart the agent through a second path) where the
 *   fence agent offers it, then power fencing: off, confirmed off (from
 *   then on the host's VMs are provably dead), then on again.
 */
import type { HostStatus, ManagerSpec } from '../../api/index.js';

/** The fencing part of Host.status. */
export type FencingStatus = NonNullable<HostStatus['fencing']>;

/** What the reconciler should do now. */
export type FencingStep =
  /** Nothing to do (host answers, or not silent long enough). */
  | { kind: 'none'; status?: FencingStatus }
  /** Write this status and look again after `recheckMs` (when set). */
  | { kind: 'hold'; status: FencingStatus; recheckMs?: number }
  | { kind: 'soft' }
  | { kind: 'power'; attempt: number }
  /** Confirmed off and recorded as Fenced (its VMs may start elsewhere now): power it on again. */
  | { kind: 'powerOn' };

/** Inputs of {@link fencingStep}. */
export interface FencingInput {
  /** The host answers heartbeats. */
  up: boolean;
  /** Its phase as connectivity decided (NonResponsive starts fencing). */
  phase: string | undefined;
  /** The agent answered at least once (a host still enrolling has nothing to fence). */
  everAnswered: boolean;
  previous: FencingStatus | undefined;
  powerManagement: { enabled: boolean; agent: string } | undefined;
  /** The fence agent can soft-fence (restart the agent). */
  softFencingSupported: boolean;
  availability: ManagerSpec['availability'];
  /** Freshness of the host's storage heartbeat, when some other host could tell. */
  storageHeartbeatFresh: boolean | undefined;
  /** Hosts of the namespace, and how many of them are silent (this one included). */
  hostsTotal: number;
  hostsSilent: number;
  /** When this operator became leader. */
  leaderSince: Date;
  now: Date;
}

/**
 * Reason of a Fenced host confirmed off and not yet powered on again. The
 * power-off is the proof its VMs are dead, so it is written before the
 * power-on: VM reconcilers restart them elsewhere while the host boots,
 * rather than racing a host that comes straight back. (`PoweredOff`, the
 * reason before this step existed, means the power-on was already tried.)
 */
export const POWER_ON_PENDING = 'PowerOnPending';

/** True when `fencing` is a confirmed power-off whose power-on is still to be done. */
export function isPowerOnPending(fencing: FencingStatus | undefined): fencing is FencingStatus {
  return fencing?.state === 'Fenced' && fencing.reason === POWER_ON_PENDING;
}

/** Power fencing attempts per outage before the host stays Failed (retried slowly). */
export const MAX_POWER_ATTEMPTS = 3;
/** Delay before another power fencing attempt after a failure. */
export const POWER_RETRY_MS = 30_000;

function stamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A status with the transition time moved only when the state or reason changes. */
function next(previous: FencingStatus | undefined, now: Date, s: Omit<FencingStatus, 'lastTransitionTime'>): FencingStatus {
  const same = previous?.state === s.state && previous?.reason === s.reason;
  const out: FencingStatus = { ...s, lastTransitionTime: same && previous?.lastTransitionTime ? previous.lastTransitionTime : stamp(now) };
  if (previous?.fencedTime && out.fencedTime === undefined) out.fencedTime = previous.fencedTime;
  return out;
}

/** Decides the next fencing step for one host. */
export function fencingStep(i: FencingInput): FencingStep {
  const prev = i.previous;
  if (i.up) {
    if (!prev || prev.state === 'Idle') return { kind: 'none' };
    return { kind: 'none', status: next(prev, i.now, { state: 'Idle', reason: 'HostAnswers', message: 'the host answers heartbeats again' }) };
  }
  // Powered off, and that written down, in an earlier pass: the power-on is all that is left of the fence.
  if (prev?.state === 'Fenced') return isPowerOnPending(prev) ? { kind: 'powerOn' } : { kind: 'none' };
  if (i.phase !== 'NonResponsive') return { kind: 'none' };

  const a = i.availability;
  const skip = (reason: string, message: string, recheckMs?: number): FencingStep => ({
    kind: 'hold',
    status: next(prev, i.now, { state: 'Skipped', reason, message, ...(prev?.attempts ? { attempts: prev.attempts } : {}) }),
    ...(recheckMs !== undefined ? { recheckMs } : {}),
  });
  if (!i.everAnswered) {
    return skip('NeverAnswered', 'the agent has never answered: the host is not enrolled yet, nothing can run there to be fenced');
  }
  if (!i.powerManagement || !i.powerManagement.enabled) {
    return skip('NoPowerManagement', 'the host has no (enabled) spec.powerManagement: it cannot be fenced');
  }
  const graceLeft = i.leaderSince.getTime() + a.fencingGraceSeconds * 1000 - i.now.getTime();
  if (graceLeft > 0) {
    return skip('OperatorStarting', `fencing is suspended for ${a.fencingGraceSeconds} s after the operator started (${Math.ceil(graceLeft / 1000)} s left)`, graceLeft + 50);
  }
  if (i.hostsTotal > 0 && (i.hostsSilent * 100) / i.hostsTotal > a.skipFencingIfConnectivityBrokenPercent) {
    return skip(
      'ConnectivityBroken',
      `${i.hostsSilent} of ${i.hostsTotal} hosts are silent (more than ${a.skipFencingIfConnectivityBrokenPercent} %): the operator is probably the one cut off`,
      10_000,
    );
  }
  if (a.skipFencingIfStorageHeartbeat && i.storageHeartbeatFresh === true) {
    return skip('StorageHeartbeatFresh', 'the host still renews its storage heartbeat: it is alive, cut off from the operator only; its VMs keep running there', 5_000);
  }

  const attempts = prev?.attempts ?? 0;
  if (prev?.state === 'Failed') {
    const since = prev.lastTransitionTime ? Date.parse(prev.lastTransitionTime) : 0;
    const wait = since + POWER_RETRY_MS * Math.max(1, attempts - MAX_POWER_ATTEMPTS + 1) - i.now.getTime();
    if (wait > 0) return { kind: 'hold', status: prev, recheckMs: wait };
    return { kind: 'power', attempt: attempts + 1 };
  }
  if (prev?.state === 'SoftFencing') {
    // The second path did not work either (host off, or unreachable that way too): no point waiting.
    if (prev.reason === 'SoftFencingFailed') return { kind: 'power', attempt: attempts + 1 };
    const since = prev.lastTransitionTime ? Date.parse(prev.lastTransitionTime) : 0;
    const wait = since + a.softFencingTimeoutSeconds * 1000 - i.now.getTime();
    if (wait > 0) return { kind: 'hold', status: prev, recheckMs: wait };
    return { kind: 'power', attempt: attempts + 1 };
  }
  if (i.softFencingSupported && prev?.state !== 'PowerFencing') return { kind: 'soft' };
  return { kind: 'power', attempt: attempts + 1 };
}

/** The status after soft fencing was asked for. */
export function softFencingStatus(previous: FencingStatus | undefined, now: Date, ok: boolean, message: string): FencingStatus {
  return next(previous, now, {
    state: 'SoftFencing',
    reason: ok ? 'AgentRestartRequested' : 'SoftFencingFailed',
    message: ok ? `asked for the agent to be restarted: ${message}` : `soft fencing failed: ${message}`,
    ...(previous?.attempts ? { attempts: previous.attempts } : {}),
  });
}

/** The status after a power fencing attempt. */
export function powerFencingStatus(previous: FencingStatus | undefined, now: Date, attempt: number, outcome: { fenced: boolean; message: string }): FencingStatus {
  if (outcome.fenced) {
    return next(previous, now, { state: 'Fenced', reason: POWER_ON_PENDING, message: outcome.message, fencedTime: stamp(now), attempts: attempt });
  }
  return next(previous, now, { state: 'Failed', reason: 'FenceAgentFailed', message: outcome.message, attempts: attempt });
}

/** The status after the power-on that ends a fence (a failed power-on does not undo the proof: still Fenced). */
export function powerOnStatus(previous: FencingStatus, now: Date, outcome: { ok: boolean; message: string }): FencingStatus {
  return next(previous, now, {
    state: 'Fenced',
    reason: outcome.ok ? 'PoweredOn' : 'PowerOnFailed',
    message: outcome.ok ? `${previous.message ?? 'powered off (confirmed)'}, then on again` : `${previous.message ?? 'powered off (confirmed)'}; power-on failed: ${outcome.message}`,
    ...(previous.attempts !== undefined ? { attempts: previous.attempts } : {}),
  });
}
