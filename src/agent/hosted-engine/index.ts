/**
 * The hosted-engine HA role (ovirt-ha-agent's job) of the host agent: the
 * Manager runs as a VM on the nodes it manages, and these nodes keep it
 * alive without it. See docs/hosted-engine.md. @packageDocumentation
 */
export * from './config.js';
export * from './engine-domain.js';
export * from './engine-vm.js';
export * from './liveness.js';
export * from './metadata.js';
export * from './node-identity.js';
export * from './read-status.js';
export * from './score.js';
export * from './service.js';
export * from './state-machine.js';
export * from './status.js';
export * from './timings.js';
