/**
 * The operator's typed client for the host agent API.
 *
 * @packageDocumentation
 */
export { AgentClient, AgentTransportError, checkAgentIdentity, retiredCertificate, type AgentClientOptions, type AgentClientTls, type AgentEventStreamOptions } from './client.js';
export { SseParser, type SseMessage } from './sse-parser.js';
