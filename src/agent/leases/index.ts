/**
 * Storage leases of VMs: the host's lock-manager configuration, the
 * whole-VM lease the agent adds under lockd, and whether a running VM holds
 * a lease now. @packageDocumentation
 */
export * from './config.js';
export * from './held.js';
export * from './libvirt-conf.js';
export * from './vm-lease.js';
