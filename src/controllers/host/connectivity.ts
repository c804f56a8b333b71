/**
 * From an agent link to a Host phase, with oVirt's meanings: a Host whose
 * agent never answered is `Installing` (it has not enrolled yet) until the
 * non-responsive timeout says otherwise; one that answered before and then
 * stopped answering keeps its phase for `nonResponsiveAfterSeconds`, then is
 * `NonResponsive`; a TLS failure is `Error` (retrying will not fix it). A
 * link this replica is still forming (it became leader moments ago) says
 * nothing yet: the last heartbeat time in status is the old leader's, so it
 * would make every host look silent, and fenceable.
 * Pure: the reconciler supplies the link, the previous status and the time.
 */
import { metaTime, type HostPhase, type HostStatus } from '../../api/index.js';
import type { HostLink } from '../../operator/agents/types.js';

/** Re-check delay while a new leader's first connection to the agent is under way. */
const LINK_FORMING_RECHECK_MS = 1_000;

/** The verdict on a link. */
export type Connectivity =
  | { up: true }
  | { up: false; phase: HostPhase; reason: string; message: string; /** re-check after, ms */ recheckMs?: number };

/** Inputs of {@link connectivity}. */
export interface ConnectivityInput {
  link: HostLink | undefined;
  previous: HostStatus;
  address: string;
  port: number;
  nonResponsiveAfterMs: number;
  now: Date;
  /** When the Host object was created (RFC 3339). */
  createdAt: string | undefined;
  /** The link is being set up for the first time since this replica leads (no answer and no failure yet). */
  forming?: boolean;
}

/** Decides the connection part of a Host's phase. */
export function connectivity(i: ConnectivityInput): Connectivity {
  const where = `${i.address}:${i.port}`;
  const state = i.link?.state ?? 'Connecting';
  if (state === 'Connected') return { up: true };
  if (state === 'CertificateRejected') {
    return { up: false, phase: 'Error', reason: 'CertificateRejected', message: `TLS with the agent at ${where} failed: ${i.link?.lastError ?? 'certificate rejected'}` };
  }
  if (state === 'NoCredentials') {
    return { up: false, phase: 'Installing', reason: 'NoManagerCA', message: 'the namespace has no Manager CA yet: create a Manager first' };
  }
  if (i.forming && i.previous.lastHeartbeatTime !== undefined) {
    const keep = i.previous.phase && i.previous.phase !== 'Installing' ? i.previous.phase : 'Connecting';
    return { up: false, phase: keep, reason: 'LinkForming', message: `connecting to the agent at ${where} (this operator became leader moments ago)`, recheckMs: LINK_FORMING_RECHECK_MS };
  }
  const lastSeen = i.link?.lastHeartbeat?.getTime() ?? (i.previous.lastHeartbeatTime ? Date.parse(i.previous.lastHeartbeatTime) : undefined);
  const detail = i.link?.lastError ? `: ${i.link.lastError}` : '';
  if (lastSeen === undefined) {
    // Never answered: enrolling, until it has been silent for too long.
    const since = i.createdAt ? Date.parse(i.createdAt) : i.now.getTime();
    const left = since + i.nonResponsiveAfterMs - i.now.getTime();
    if (left > 0) {
      return { up: false, phase: 'Installing', reason: 'WaitingForAgent', message: `waiting for the agent at ${where} to enroll and answer${detail}`, recheckMs: left };
    }
    return { up: false, phase: 'NonResponsive', reason: 'NoAnswer', message: `the agent at ${where} has never answered${detail}` };
  }
  const left = lastSeen + i.nonResponsiveAfterMs - i.now.getTime();
  if (left > 0) {
    // Within the grace period: keep the last phase (a blip is not an outage).
    const keep = i.previous.phase && i.previous.phase !== 'Installing' ? i.previous.phase : 'Connecting';
    return { up: false, phase: keep, reason: 'HeartbeatLate', message: `no heartbeat from ${where} for ${Math.round((i.now.getTime() - lastSeen) / 1000)} s${detail}`, recheckMs: left };
  }
  return {
    up: false,
    phase: 'NonResponsive',
    reason: 'HeartbeatsMissed',
    message: `no heartbeat from ${where} since ${metaTime(new Date(lastSeen))}${detail}`,
  };
}
