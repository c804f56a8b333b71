/** The invariant checker: no VM runs on more than one host. */
export { findViolations, parseVirshList, qemuDomain } from './violations.js';
export type { DomainInstance, HostSample, Violation } from './violations.js';
export { sampleTestHost, sampleTestbed, sampleUri } from './sample.js';
