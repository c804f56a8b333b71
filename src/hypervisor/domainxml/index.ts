/**
 * Pure conversion between Drover's {@link DomainSpec} and libvirt domain
 * XML, and the parse-back the agent needs. No I/O anywhere in this folder.
 *
 * @packageDocumentation
 */
export * from './types.js';
export { buildDomainObject, buildDomainXml, InvalidDomainSpecError, validateDomainSpec } from './domain.js';
export type { BuildOptions } from './domain.js';
export { parseDomainXml, DomainXmlParseError } from './parse.js';
export type { ParsedDisk, ParsedDomain, ParsedInterface } from './parse.js';
export { generateMac, MAC_PREFIX } from './mac.js';
export { computeSpecHash, CONVERTER_VERSION } from './metadata.js';
export { assignDiskTargets } from './disks.js';
export { effectiveCpu, TCG_CPU_MODEL, vcpuCount } from './cpu.js';
