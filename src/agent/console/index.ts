/** The agent's serial-console verb (WebSocket over mutual TLS) and the libvirt pty it attaches to. */
export * from './pty.js';
export * from './endpoint.js';
