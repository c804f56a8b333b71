/**
 * The operator's links to its host agents.
 *
 * @packageDocumentation
 */
export { AgentConnectionManager, type AgentConnectionManagerOptions } from './connections.js';
export { classifyFailure, endpoint, type FailureVerdict } from './classify.js';
export type { LinkClient } from './link.js';
export type { AgentApi, AgentConnections, AgentLinkState, HostLink, HostTarget, LinkChange } from './types.js';
