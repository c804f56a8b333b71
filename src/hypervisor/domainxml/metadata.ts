/**
 * `<metadata>`: Drover's ownership record inside the domain, and the spec
 * hash that tells the agent whether a defined domain is stale.
 *
 * The record is what separates Drover's domains from foreign ones on a host:
 * the agent manages and cleans up only domains that carry it, and reports
 * the rest as orphans.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { DROVER_XMLNS, DROVER_XMLNS_PREFIX, type DomainSpec, type XmlElement } from './types.js';

/** Local name of Drover's element under `<metadata>`. */
export const DROVER_METADATA_ELEMENT = 'domain';

/**
 * Version of the conversion, mixed into {@link computeSpecHash}. Bump it
 * when a change to this folder changes the XML produced for an unchanged
 * spec, so every defined domain is seen as stale and redefined.
 */
export const CONVERTER_VERSION = 1;

/** JSON with object keys sorted and `undefined` members dropped: one text per value. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Hash of everything in the spec that shapes the domain: SHA-256 (hex) of
 * the converter version and the canonical JSON of the spec. `specHash`
 * itself and `generation` are left out: a new generation that changes
 * nothing in the domain must not make it look stale.
 */
export function computeSpecHash(spec: DomainSpec): string {
  const { specHash: _ignoredHash, generation: _ignoredGeneration, ...shaping } = spec;
  return createHash('sha256')
    .update(`drover-domainxml/v${CONVERTER_VERSION}\n`)
    .update(canonicalJson(shaping))
    .digest('hex');
}

/**
 * `<metadata>` with `<drover:domain xmlns:drover="…">` holding the owner,
 * the spec hash and, when known, the generation. The namespace declaration
 * sits on Drover's element because libvirt keeps each metadata child as an
 * independent fragment keyed by its namespace URI.
 */
export function buildMetadata(spec: DomainSpec): XmlElement {
  const p = DROVER_XMLNS_PREFIX;
  const record: XmlElement = {
    [`@_xmlns:${p}`]: DROVER_XMLNS,
    [`${p}:owner`]: { '@_namespace': spec.owner.namespace, '@_name': spec.owner.name },
    [`${p}:specHash`]: spec.specHash ?? computeSpecHash(spec),
  };
  if (spec.generation !== undefined) record[`${p}:generation`] = spec.generation;
  return { [`${p}:${DROVER_METADATA_ELEMENT}`]: record };
}
