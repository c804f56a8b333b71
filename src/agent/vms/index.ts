/**
 * The agent's VM service: agent-level spec → DomainSpec → libvirt XML,
 * idempotent verbs, graceful stop, orphans, background migrations.
 *
 * @packageDocumentation
 */
export { VmService, type VmServiceOptions } from './service.js';
export { describeDomain, isOwned } from './describe.js';
export { resolveVmSpec, type ResolveContext } from './resolve.js';
export { stopGracefully, type StopOptions, type StopOutcome } from './stop.js';
export { MigrationTracker } from './migrations.js';
export { KeyedMutex } from './keyed-mutex.js';
