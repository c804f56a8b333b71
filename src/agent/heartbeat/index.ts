/**
 * Storage heartbeats: each host's liveness written on shared storage, read
 * by every host. @packageDocumentation
 */
export * from './record.js';
export * from './tracker.js';
export * from './service.js';
export * from './reporting-storage.js';
