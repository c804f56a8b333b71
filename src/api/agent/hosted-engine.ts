/**
 * The hosted-engine part of the agent API: what a self-hosted engine node
 * reads from the shared HA metadata on the hosted-engine storage domain, and
 * the maintenance switches the Manager (or the node's CLI) flips.
 *
 * The HA role on each node works without the Manager; these verbs only let
 * the Manager observe it and set maintenance while the Manager is up.
 */
import { z } from 'zod';

/** States of a node's hosted-engine HA state machine (ovirt-ha-agent's names). */
export const HOSTED_ENGINE_STATES = [
  'Initializing',
  'EngineDown',
  'EngineStart',
  'EngineStarting',
  'EngineUp',
  'EngineUpBadHealth',
  'EngineStop',
  'EngineMigratingAway',
  'EngineDownElsewhere',
  'EngineUnexpectedlyDown',
  'GlobalMaintenance',
  'LocalMaintenance',
  'LocalMaintenanceMigrate',
] as const;

/** One node as seen in the shared metadata. */
export const hostedEngineNode = z.object({
  /** The host's name (the agent's `--name`). */
  name: z.string(),
  /** Score out of 3400; 0 in local maintenance. */
  score: z.int(),
  /** The node's HA state (one of HOSTED_ENGINE_STATES; newer agents may add more). */
  state: z.string(),
  /** When the node last wrote its metadata (RFC 3339). */
  lastUpdate: z.string(),
  /** The metadata is younger than the host-alive timeout. */
  live: z.boolean(),
  /** The node is in local maintenance. */
  localMaintenance: z.boolean(),
  /** The Manager VM runs on this node, as the node itself reports it. */
  engineRunning: z.boolean(),
  /** The node's last health check of the Manager (`good`, `bad`, `unknown`). */
  engineHealth: z.enum(['good', 'bad', 'unknown']),
  /** Penalties applied to the score, by name (gateway, cpuLoad, freeMemory, bridge, staleConfig). */
  penalties: z.record(z.string(), z.int()).optional(),
});

/** `GET /v1/hosted-engine`: the shared metadata as this node reads it. */
export const hostedEngineStatus = z.object({
  /** The hosted-engine storage domain's path on this node. */
  storagePath: z.string(),
  /** Global maintenance is on (no node acts on the Manager VM). */
  globalMaintenance: z.boolean(),
  /** The node the Manager VM runs on, by the live nodes' reports; absent when it runs nowhere. */
  engineHost: z.string().optional(),
  /** The Manager VM's state in one word: `Up` (healthy), `BadHealth`, `Starting`, `Down`, `Unknown`. */
  engineState: z.string(),
  /** Every node that ever wrote metadata. */
  nodes: z.array(hostedEngineNode),
  /** When this answer was read (RFC 3339). */
  readAt: z.string(),
});

/** `PUT /v1/hosted-engine/maintenance`: set what is given, keep what is not. */
export const hostedEngineMaintenanceRequest = z.strictObject({
  /** Global maintenance (shared by every node). */
  global: z.boolean().optional(),
  /** Local maintenance of the node answering. */
  local: z.boolean().optional(),
});

/** A hosted-engine node. */
export type HostedEngineNode = z.infer<typeof hostedEngineNode>;
/** The shared hosted-engine metadata as one node reads it. */
export type HostedEngineStatus = z.infer<typeof hostedEngineStatus>;
/** A maintenance change. */
export type HostedEngineMaintenanceRequest = z.infer<typeof hostedEngineMaintenanceRequest>;
