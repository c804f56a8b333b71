/** The operator's console proxy: authenticated, authorized WebSocket relay to the agent of a VM's host. */
export * from './authenticate.js';
export * from './proxy.js';
