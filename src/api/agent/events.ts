/**
 * The event stream `GET /v1/events` (Server-Sent Events). Each event is one
 * SSE message: `id:` is `<bootId>-<seq>`, `event:` is the payload's `type`,
 * `data:` is the JSON payload below. `seq` increases by one per event within
 * one agent process (`bootId`); a reconnect sends the last id as
 * `Last-Event-ID` and gets what it missed from a bounded ring. When that is
 * not possible (the agent restarted, or the ring moved past the id) the
 * stream starts with an `EventsLost` message and the client must relist.
 */
import { z } from 'zod';
import { domainState } from './vms.js';
import { migrationState } from './migration.js';
import { timestamp } from './common.js';

const base = {
  /** SSE id, `<bootId>-<seq>`. */
  id: z.string(),
  seq: z.int().positive(),
  time: timestamp,
};

/** A libvirt lifecycle event (from the hypervisor driver). */
export const vmLifecycleEvent = z.object({
  ...base,
  type: z.literal('VmLifecycle'),
  uid: z.string(),
  name: z.string(),
  /** defined, undefined, started, suspended, resumed, stopped, shutdown, pmsuspended, crashed. */
  event: z.string(),
  detail: z.string(),
});

/** The agent (re)started: anything the operator cached about this host may be stale. */
export const agentStartedEvent = z.object({
  ...base,
  type: z.literal('AgentStarted'),
  version: z.string(),
  bootId: z.string(),
});

/** A domain without Drover metadata was found: reported, never touched. */
export const orphanDomainEvent = z.object({
  ...base,
  type: z.literal('OrphanDomain'),
  uid: z.string(),
  name: z.string(),
  state: domainState,
});

/** A storage domain's connection or health changed. */
export const storageDomainHealthEvent = z.object({
  ...base,
  type: z.literal('StorageDomainHealth'),
  domain: z.string(),
  connected: z.boolean(),
  ok: z.boolean().optional(),
  error: z.string().optional(),
});

/** A migration ended (succeeded, failed or cancelled). */
export const migrationFinishedEvent = z.object({
  ...base,
  type: z.literal('MigrationFinished'),
  uid: z.string(),
  state: migrationState,
  destinationURI: z.string(),
  error: z.string().optional(),
});

/** Synthetic, first on a stream that cannot replay from the given Last-Event-ID: relist. */
export const eventsLostEvent = z.object({
  type: z.literal('EventsLost'),
  time: timestamp,
  message: z.string(),
});

/** Any event on the stream. */
export const agentEvent = z.discriminatedUnion('type', [
  vmLifecycleEvent,
  agentStartedEvent,
  orphanDomainEvent,
  storageDomainHealthEvent,
  migrationFinishedEvent,
  eventsLostEvent,
]);
/** An event on the stream. */
export type AgentEvent = z.infer<typeof agentEvent>;
/** An event kept in the ring (every kind but the synthetic EventsLost). */
export type RecordedAgentEvent = Exclude<AgentEvent, { type: 'EventsLost' }>;
/** What producers publish: the ring assigns id, seq and time. */
export type AgentEventInput = RecordedAgentEvent extends infer E
  ? E extends RecordedAgentEvent
    ? Omit<E, 'id' | 'seq' | 'time'> & { time?: string }
    : never
  : never;

/** Parses an SSE id `<bootId>-<seq>`. */
export function parseEventId(id: string): { bootId: string; seq: number } | undefined {
  const m = /^([A-Za-z0-9]{1,64})-([0-9]{1,15})$/.exec(id);
  if (!m) return undefined;
  return { bootId: m[1] as string, seq: Number(m[2]) };
}
