/**
 * A small WebSocket implementation (RFC 6455, no extensions): frames,
 * handshake, connections, and both ends of the upgrade.
 *
 * @packageDocumentation
 */
export * from './frame.js';
export * from './handshake.js';
export * from './connection.js';
export * from './server.js';
export * from './client.js';
