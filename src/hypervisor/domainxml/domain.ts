/**
 * The whole domain: `buildDomainXml` turns a {@link DomainSpec} into libvirt
 * domain XML by putting the per-area fragments together.
 *
 * @packageDocumentation
 */
import { XMLBuilder } from 'fast-xml-parser';
import { buildCpu, buildVcpu } from './cpu.js';
import { buildDevices } from './devices.js';
import { buildClock, buildFeatures, buildLifecycle, buildPm } from './features.js';
import { buildMemory } from './memory.js';
import { buildMetadata } from './metadata.js';
import { buildOs } from './os.js';
import type { DomainSpec, XmlElement } from './types.js';
import { validateDomainSpec } from './validate.js';

export { validateDomainSpec } from './validate.js';

/** Thrown by {@link buildDomainXml} for a spec that {@link validateDomainSpec} rejects. */
export class InvalidDomainSpecError extends Error {
  /** Every problem found, each naming its field. */
  readonly errors: readonly string[];

  constructor(errors: readonly string[]) {
    super(`invalid domain spec: ${errors.join('; ')}`);
    this.name = 'InvalidDomainSpecError';
    this.errors = errors;
  }
}

/** Options of {@link buildDomainXml}. */
export interface BuildOptions {
  /**
   * `<metadata>` content replacing Drover's ownership record: for domains
   * that are deliberately not Drover VMs (the self-hosted Manager VM), which
   * the agent's VM service must then leave alone as it does every domain
   * without the record.
   */
  metadata?: XmlElement;
}

/**
 * The domain as a fast-xml-parser builder object (`{ domain: … }`). Keys are
 * inserted in libvirt's own document order, which makes the output both
 * deterministic and easy to compare with `virsh dumpxml`. Does not validate.
 */
export function buildDomainObject(spec: DomainSpec, options: BuildOptions = {}): XmlElement {
  const domain: XmlElement = { '@_type': spec.hypervisor, name: spec.name, uuid: spec.uid };
  if (spec.title !== undefined) domain.title = spec.title;
  domain.metadata = options.metadata ?? buildMetadata(spec);
  const { memory, currentMemory } = buildMemory(spec.memoryMiB);
  domain.memory = memory;
  domain.currentMemory = currentMemory;
  domain.vcpu = buildVcpu(spec.cpu);
  domain.os = buildOs(spec);
  domain.features = buildFeatures();
  domain.cpu = buildCpu(spec);
  domain.clock = buildClock(spec.hypervisor);
  Object.assign(domain, buildLifecycle(spec));
  domain.pm = buildPm();
  domain.devices = buildDevices(spec);
  return { domain };
}

// One builder for all calls: its options are fixed, and it keeps no state between builds.
const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  format: true,
  indentBy: '  ',
  // Empty elements are written as <acpi/>, the way libvirt writes them.
  suppressEmptyNode: true,
  // Boolean attributes do not exist in libvirt XML; never drop a value.
  suppressBooleanAttributes: false,
  // Escape &, <, >, quotes in text and attributes (paths and cmdlines may hold them).
  processEntities: true,
});

/**
 * libvirt domain XML for `spec`: 2-space indented, newline-terminated, no
 * XML declaration (libvirt neither needs nor writes one). Deterministic:
 * the same spec always gives byte-identical XML, so the text itself can be
 * compared and hashed.
 *
 * @throws InvalidDomainSpecError when {@link validateDomainSpec} reports problems.
 */
export function buildDomainXml(spec: DomainSpec, options: BuildOptions = {}): string {
  const errors = validateDomainSpec(spec);
  if (errors.length > 0) throw new InvalidDomainSpecError(errors);
  const xml: string = builder.build(buildDomainObject(spec, options));
  return xml.endsWith('\n') ? xml : `${xml}\n`;
}
