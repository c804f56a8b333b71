/**
 * The host agent's HTTPS server: mutual TLS, the `/v1/` JSON verbs and the
 * event stream.
 *
 * @packageDocumentation
 */
export { createAgentServer, type AgentServer, type AgentServerOptions, type AgentTls } from './server.js';
export { EventHub, type EventHubOptions, type Replay } from './event-hub.js';
export { HostStatsSampler, readProc, parseProcStat, parseMeminfo, parseLoadavg, cpuUsagePercent, type ProcReader, type ProcFile } from './host-stats.js';
export { DRIVER_ERROR_STATUS, toApiError, errorKind } from './errors.js';
export { Router, MethodNotAllowedError } from './router.js';
export { StorageVerbs } from './storage-verbs.js';
export { StorageHealthWatch } from './storage-watch.js';
export { formatSseMessage } from './sse.js';
