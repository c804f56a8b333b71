/** The invariant checker: no VM runs on more than one host. */
export { countsAsRunning, findViolations, parseVirshDomains, qemuDomain } from './violations.js';
export type { HostSample, LibvirtDomain, QemuProcess, Violation } from './violations.js';
export { sampleTestHost, sampleTestHosts, sampleTestbed, sampleUri } from './sample.js';
