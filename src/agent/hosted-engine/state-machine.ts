/**
 * The hosted-engine HA state machine of one node, pure: from what the node
 * sees now (its score, its maintenance switches, the Manager VM on this
 * node, its health check, the other nodes' metadata) and what it remembers
 * (its state and a few instants), the next state and at most one action.
 * The service (service.ts) carries the action out and feeds the outcome
 * back ({@link noteStartRefused}, {@link noteMigrationFailed}).
 *
 * Rules, in order:
 * 1. Global maintenance: nobody acts on the Manager VM (it keeps running, or not).
 * 2. Local maintenance: a node running the VM migrates it to the best other
 *    live node; with no such node it keeps it running (stopping the Manager
 *    with nowhere to go would be worse) and tries again later. A node not
 *    running it takes no part (its score is 0).
 * 3. Running here: healthy → EngineUp, and a node ≥ migrateScoreGap below the
 *    best other live node migrates it there; unhealthy longer than the bad
 *    health timeout, or not healthy within the start timeout of its start →
 *    stopped, so the best node (maybe this one again) starts it.
 * 4. Not running here: if a live node reports it running, nothing to do;
 *    otherwise the best-scored live node (ties: the lower name) starts it.
 *    A node whose VM died under it scores 0 for a while (another node
 *    restarts it); after a refused start (the lease is held elsewhere) a
 *    node waits startRetryMs.
 *
 * A node is live when its metadata changed within the host-alive timeout
 * (the caller computes that). Starting twice is not prevented here but by
 * the VM's storage lease: this machine only keeps the attempts rare.
 *
 * @packageDocumentation
 */
import type { HOSTED_ENGINE_STATES } from '../../api/agent/hosted-engine.js';
import { initializingMs, unexpectedDownHoldMs, type HostedEngineTimings } from './timings.js';

/** A state of the machine. */
export type HostedEngineState = (typeof HOSTED_ENGINE_STATES)[number];

/** The Manager VM's health as one node's check sees it. */
export type EngineHealth = 'good' | 'bad' | 'unknown';

/**
 * The Manager VM on this node: `running` (the guest runs here), `down` (no
 * active domain here), `busy` (active but not judged: an incoming migration
 * or a start not yet past its paused phase), `migrating` (this node's
 * migration of it is in progress).
 */
export type LocalEngine = 'running' | 'down' | 'busy' | 'migrating';

/** Another node, from its metadata. */
export interface PeerView {
  name: string;
  score: number;
  state: string;
  /** Its metadata changed within the host-alive timeout. */
  live: boolean;
  localMaintenance: boolean;
  engineRunning: boolean;
  engineHealth: EngineHealth;
}

/** Everything one decision reads. */
export interface DecisionInput {
  /** Monotonic milliseconds. */
  now: number;
  /** This node's name. */
  name: string;
  /** This node's score from its observations (score.ts). */
  rawScore: number;
  localMaintenance: boolean;
  globalMaintenance: boolean;
  engine: LocalEngine;
  health: EngineHealth;
  /** The other nodes (this one excluded). */
  peers: PeerView[];
  timings: HostedEngineTimings;
}

/** What a node remembers between decisions. */
export interface Memory {
  state: HostedEngineState;
  /** When the state was entered. */
  since: number;
  /** When this node started the VM; cleared once its health was good. */
  startedAt?: number;
  /** Since when the health check fails while the VM runs here. */
  badHealthSince?: number;
  /** Last refused start. */
  refusedAt?: number;
  /** When the VM died here without this node stopping or migrating it. */
  unexpectedDownAt?: number;
  /** Last failed migration. */
  migrationFailedAt?: number;
}

/** The one thing to do. */
export type Action = { kind: 'none' } | { kind: 'start' } | { kind: 'stop'; reason: string } | { kind: 'migrate'; to: string; reason: string };

/** A decision: the node's new memory, its published score and the action. */
export interface Decision {
  memory: Memory;
  /** The score to publish (0 in local maintenance and while held after an unexpected stop). */
  score: number;
  action: Action;
}

const NONE: Action = { kind: 'none' };

/** Memory of a node whose agent just started. */
export function initialMemory(now: number): Memory {
  return { state: 'Initializing', since: now };
}

/** Records a refused or failed start (the service calls it). */
export function noteStartRefused(memory: Memory, now: number): Memory {
  return { ...memory, refusedAt: now, startedAt: undefined };
}

/** Records a failed migration (the service calls it). */
export function noteMigrationFailed(memory: Memory, now: number): Memory {
  return { ...memory, migrationFailedAt: now };
}

/** The score this node publishes. */
export function effectiveScore(input: Pick<DecisionInput, 'now' | 'rawScore' | 'localMaintenance' | 'timings'>, memory: Memory): number {
  if (input.localMaintenance) return 0;
  if (memory.unexpectedDownAt !== undefined && input.now - memory.unexpectedDownAt < unexpectedDownHoldMs(input.timings)) return 0;
  return input.rawScore;
}

/** A node that may run the VM. */
interface Candidate {
  name: string;
  score: number;
}

/** Higher score first; on a tie the lower name, so every node picks the same one. */
function better(a: Candidate, b: Candidate): boolean {
  return a.score > b.score || (a.score === b.score && a.name < b.name);
}

/** The best of `candidates` with a score above 0, or undefined. */
export function bestCandidate(candidates: readonly Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of candidates) if (c.score > 0 && (best === undefined || better(c, best))) best = c;
  return best;
}

/** Live peers that may take the VM (not in local maintenance, score above 0). */
function eligiblePeers(peers: readonly PeerView[]): Candidate[] {
  return peers.filter((p) => p.live && !p.localMaintenance && p.score > 0).map((p) => ({ name: p.name, score: p.score }));
}

function enter(memory: Memory, state: HostedEngineState, now: number, changes: Partial<Memory> = {}): Memory {
  return { ...memory, ...changes, state, since: memory.state === state ? memory.since : now };
}

const RUNNING_STATES: ReadonlySet<HostedEngineState> = new Set(['EngineUp', 'EngineUpBadHealth', 'EngineStarting']);

/** The next state and action of this node. */
export function decide(input: DecisionInput, memory: Memory): Decision {
  const { now, timings: t } = input;
  const decision = (m: Memory, action: Action = NONE): Decision => ({ memory: m, action, score: effectiveScore(input, m) });
  const here = input.engine === 'running' || input.engine === 'migrating';

  if (input.engine === 'busy') return decision(memory);

  if (memory.state === 'Initializing' && input.engine === 'down' && !input.globalMaintenance && now - memory.since < initializingMs(t)) {
    return decision(memory);
  }

  // 1. Global maintenance: watch, never act.
  if (input.globalMaintenance) {
    return decision(enter(memory, 'GlobalMaintenance', now, { badHealthSince: undefined, startedAt: undefined, unexpectedDownAt: undefined }));
  }

  // 2. Local maintenance: give the VM away, take no part.
  if (input.localMaintenance) {
    if (!here) return decision(enter(memory, 'LocalMaintenance', now, { badHealthSince: undefined, startedAt: undefined }));
    const m = enter(memory, 'LocalMaintenanceMigrate', now);
    if (input.engine === 'migrating') return decision(m);
    const target = bestCandidate(eligiblePeers(input.peers));
    const retryOk = m.migrationFailedAt === undefined || now - m.migrationFailedAt >= t.startRetryMs;
    if (target === undefined || !retryOk) return decision(m);
    return decision(m, { kind: 'migrate', to: target.name, reason: 'local maintenance' });
  }

  if (input.engine === 'migrating') return decision(enter(memory, memory.state === 'LocalMaintenanceMigrate' ? 'LocalMaintenanceMigrate' : 'EngineMigratingAway', now));

  // 3. Running here.
  if (here) {
    let m = memory;
    // Found running when the agent came up, or started by deploy: give it the start timeout to turn healthy.
    if (m.state === 'Initializing' || m.state === 'EngineStart' || m.state === 'EngineDown' || m.state === 'EngineDownElsewhere' || m.state === 'LocalMaintenance') {
      m = { ...m, startedAt: m.startedAt ?? now, badHealthSince: undefined };
    }
    if (input.health === 'good') {
      m = enter(m, 'EngineUp', now, { startedAt: undefined, badHealthSince: undefined, unexpectedDownAt: undefined });
      const target = bestCandidate(eligiblePeers(input.peers));
      const retryOk = m.migrationFailedAt === undefined || now - m.migrationFailedAt >= t.startRetryMs;
      if (target !== undefined && retryOk && target.score - input.rawScore >= t.migrateScoreGap) {
        return decision(enter(m, 'EngineMigratingAway', now), { kind: 'migrate', to: target.name, reason: `score ${input.rawScore} is ${target.score - input.rawScore} below ${target.name}'s ${target.score}` });
      }
      return decision(m);
    }
    if (m.startedAt !== undefined) {
      if (now - m.startedAt >= t.startTimeoutMs) {
        return decision(enter(m, 'EngineStop', now, { startedAt: undefined, badHealthSince: undefined }), { kind: 'stop', reason: 'not healthy within the start timeout' });
      }
      return decision(enter(m, 'EngineStarting', now));
    }
    if (input.health === 'bad') {
      const since = m.badHealthSince ?? now;
      if (now - since >= t.badHealthTimeoutMs) {
        return decision(enter(m, 'EngineStop', now, { badHealthSince: undefined }), { kind: 'stop', reason: 'health check failing longer than the bad-health timeout' });
      }
      return decision(enter(m, 'EngineUpBadHealth', now, { badHealthSince: since }));
    }
    // Health unknown (not checked yet): keep the state, keep counting.
    return decision(enter(m, RUNNING_STATES.has(m.state) ? m.state : 'EngineUpBadHealth', now));
  }

  // 4. Not running here.
  let m: Memory = { ...memory, startedAt: undefined, badHealthSince: undefined };
  if (RUNNING_STATES.has(memory.state)) m = { ...m, unexpectedDownAt: now };
  const held = m.unexpectedDownAt !== undefined && now - m.unexpectedDownAt < unexpectedDownHoldMs(t);
  if (input.peers.some((p) => p.live && p.engineRunning)) {
    return decision(enter(m, 'EngineDownElsewhere', now));
  }
  if (held) return decision(enter(m, 'EngineUnexpectedlyDown', now));
  if (m.refusedAt !== undefined && now - m.refusedAt < t.startRetryMs) return decision(enter(m, 'EngineDown', now));
  const best = bestCandidate([{ name: input.name, score: effectiveScore(input, m) }, ...eligiblePeers(input.peers)]);
  if (best?.name === input.name) {
    return decision(enter(m, 'EngineStart', now, { startedAt: now, unexpectedDownAt: undefined }), { kind: 'start' });
  }
  return decision(enter(m, 'EngineDown', now));
}
