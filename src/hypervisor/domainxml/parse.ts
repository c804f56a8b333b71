/**
 * Parse-back of libvirt domain XML: the facts the agent needs from a
 * defined or running domain (`virsh dumpxml` / `virDomainGetXMLDesc`).
 *
 * libvirt adds a lot on the way back (`id`, aliases, PCI addresses,
 * `<seclabel>`, `<emulator>`, expanded machine types, CPU features, …), so
 * this reads only what it needs and ignores everything else; it never
 * assumes that an element it did not write is absent.
 *
 * @packageDocumentation
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DISK_ALIAS_PREFIX } from './disks.js';
import { INTERFACE_ALIAS_PREFIX } from './interfaces.js';
import { DROVER_METADATA_ELEMENT } from './metadata.js';
import { DROVER_XMLNS, type OwnerRef } from './types.js';

/** A disk as read back from domain XML. */
export interface ParsedDisk {
  /** Guest target name (`vda`, `sdb`, …). */
  target: string;
  /** Target bus, when given (libvirt always gives it on dumps). */
  bus?: string;
  /** `disk`, `cdrom`, `floppy` or `lun`. */
  device: string;
  /** Host path of the source (`file`, `dev` or `dir` attribute); absent for network disks and empty drives. */
  path?: string;
  /** Image format from `<driver type>`. */
  format?: string;
  /** Whether `<readonly/>` is present. */
  readOnly: boolean;
  /** Spec name, when the disk carries Drover's `ua-disk-<name>` alias. */
  name?: string;
}

/** A NIC as read back from domain XML. */
export interface ParsedInterface {
  /** MAC address, lower-cased. */
  mac: string;
  /** Interface type (`bridge`, `network`, `direct`, …). */
  type: string;
  /** Host bridge, when the source names one. */
  bridge?: string;
  /** Device model, when given. */
  model?: string;
  /** Spec name, when the NIC carries Drover's `ua-net-<name>` alias. */
  name?: string;
}

/** What the agent needs to know about a domain. */
export interface ParsedDomain {
  /** Domain UUID (for Drover domains, the Kubernetes UID). */
  uuid: string;
  /** Domain name. */
  name: string;
  /** Domain type: `kvm`, `qemu`, … */
  type: string;
  /** Title, if any. */
  title?: string;
  /**
   * Owning `VirtualMachine` from Drover's metadata. `undefined` means the
   * domain is not Drover's (foreign, or an orphan without a record): the
   * agent reports it and never touches it.
   */
  owner?: OwnerRef;
  /** Spec hash recorded when the domain was defined. */
  specHash?: string;
  /** `VirtualMachine` generation recorded when the domain was defined. */
  generation?: number;
  /**
   * Maximum memory (`<memory>`) in MiB. Exact, so it may be fractional for
   * domains whose memory is not a whole number of MiB.
   */
  memoryMiB: number;
  /** Maximum vCPU count (`<vcpu>`). */
  vcpus: number;
  /** Disks in document order. */
  disks: ParsedDisk[];
  /** NICs in document order. */
  interfaces: ParsedInterface[];
}

/** Thrown by {@link parseDomainXml} for text that is not a libvirt domain. */
export class DomainXmlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DomainXmlParseError';
  }
}

type XmlNode = Record<string, unknown>;

/** Elements that may repeat and are read as lists, even when only one is present. */
const REPEATED = new Set(['domain.devices.disk', 'domain.devices.interface']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  // Everything stays a string: names like "0123" or "1e5" must not become numbers.
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (_name, jPath, _isLeaf, isAttribute) => !isAttribute && REPEATED.has(String(jPath)),
});

const isNode = (v: unknown): v is XmlNode => typeof v === 'object' && v !== null && !Array.isArray(v);

function child(node: unknown, key: string): XmlNode | undefined {
  if (!isNode(node)) return undefined;
  const v = node[key];
  if (isNode(v)) return v;
  // An element that is present but empty (or holds only text) parses to a string.
  if (typeof v === 'string') return { '#text': v };
  return undefined;
}

function text(node: unknown, key: string): string | undefined {
  if (!isNode(node)) return undefined;
  const v = node[key];
  if (typeof v === 'string') return v;
  if (isNode(v) && typeof v['#text'] === 'string') return v['#text'];
  return undefined;
}

function attr(node: unknown, name: string): string | undefined {
  if (!isNode(node)) return undefined;
  const v = node[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

function list(node: unknown, key: string): XmlNode[] {
  if (!isNode(node)) return [];
  const v = node[key];
  if (Array.isArray(v)) return v.map((e) => (isNode(e) ? e : {}));
  return isNode(v) ? [v] : [];
}

/** Bytes per libvirt memory unit (libvirt's scaled-integer units; default KiB). */
const UNIT_BYTES: Record<string, number> = {
  b: 1, bytes: 1,
  kb: 1e3, k: 1024, kib: 1024,
  mb: 1e6, m: 1024 ** 2, mib: 1024 ** 2,
  gb: 1e9, g: 1024 ** 3, gib: 1024 ** 3,
  tb: 1e12, t: 1024 ** 4, tib: 1024 ** 4,
};

function memoryMiB(node: XmlNode | undefined): number {
  const raw = node?.['#text'];
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  const unit = (attr(node, 'unit') ?? 'KiB').toLowerCase();
  const scale = UNIT_BYTES[unit];
  if (!Number.isFinite(value) || scale === undefined) {
    throw new DomainXmlParseError('domain XML has no readable <memory>');
  }
  return (value * scale) / 1024 ** 2;
}

/**
 * Finds Drover's record under `<metadata>` by namespace URI, not by prefix:
 * libvirt keeps whatever prefix the writer used, and another tool may have
 * bound `drover` to something else.
 */
function droverRecord(domain: XmlNode): { record: XmlNode; prefix: string } | undefined {
  const metadata = child(domain, 'metadata');
  if (metadata === undefined) return undefined;
  for (const key of Object.keys(metadata)) {
    if (key.startsWith('@_') || key === '#text') continue;
    const el = metadata[key];
    if (!isNode(el)) continue;
    const colon = key.indexOf(':');
    const prefix = colon >= 0 ? key.slice(0, colon) : '';
    const local = colon >= 0 ? key.slice(colon + 1) : key;
    const nsAttr = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    // The declaration is normally on the element itself; look outwards too.
    const ns = attr(el, nsAttr) ?? attr(metadata, nsAttr) ?? attr(domain, nsAttr);
    if (ns === DROVER_XMLNS && local === DROVER_METADATA_ELEMENT) return { record: el, prefix };
  }
  return undefined;
}

function parseDisk(disk: XmlNode): ParsedDisk {
  const target = attr(child(disk, 'target'), 'dev');
  if (target === undefined) throw new DomainXmlParseError('domain XML has a <disk> without <target dev>');
  const source = child(disk, 'source');
  const out: ParsedDisk = {
    target,
    device: attr(disk, 'device') ?? 'disk',
    readOnly: disk.readonly !== undefined,
  };
  const bus = attr(child(disk, 'target'), 'bus');
  if (bus !== undefined) out.bus = bus;
  const path = attr(source, 'file') ?? attr(source, 'dev') ?? attr(source, 'dir');
  if (path !== undefined) out.path = path;
  const format = attr(child(disk, 'driver'), 'type');
  if (format !== undefined) out.format = format;
  const alias = attr(child(disk, 'alias'), 'name');
  if (alias?.startsWith(DISK_ALIAS_PREFIX)) out.name = alias.slice(DISK_ALIAS_PREFIX.length);
  return out;
}

function parseInterface(nic: XmlNode): ParsedInterface {
  const mac = attr(child(nic, 'mac'), 'address');
  // libvirt always writes a MAC (it generates one when none was given).
  if (mac === undefined) throw new DomainXmlParseError('domain XML has an <interface> without <mac address>');
  const out: ParsedInterface = { mac: mac.toLowerCase(), type: attr(nic, 'type') ?? '' };
  const bridge = attr(child(nic, 'source'), 'bridge');
  if (bridge !== undefined) out.bridge = bridge;
  const model = attr(child(nic, 'model'), 'type');
  if (model !== undefined) out.model = model;
  const alias = attr(child(nic, 'alias'), 'name');
  if (alias?.startsWith(INTERFACE_ALIAS_PREFIX)) out.name = alias.slice(INTERFACE_ALIAS_PREFIX.length);
  return out;
}

/**
 * Reads a libvirt domain XML document (as written by `buildDomainXml` or
 * returned by libvirt for a defined or running domain).
 *
 * @throws DomainXmlParseError when the text is not well-formed XML or has no
 *   `<domain>` with `<name>`, `<uuid>`, `<memory>`.
 */
export function parseDomainXml(xml: string): ParsedDomain {
  // The parser itself is lenient; a truncated dump must fail, not yield half a domain.
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new DomainXmlParseError(`domain XML is not well-formed: ${valid.err.msg} (line ${valid.err.line})`);
  }
  const doc: unknown = parser.parse(xml);
  const domain = child(doc, 'domain');
  if (domain === undefined) throw new DomainXmlParseError('document has no <domain> root element');

  const name = text(domain, 'name');
  const uuid = text(domain, 'uuid');
  if (!name) throw new DomainXmlParseError('domain XML has no <name>');
  if (!uuid) throw new DomainXmlParseError('domain XML has no <uuid>');

  const vcpuText = text(domain, 'vcpu');
  const vcpus = vcpuText === undefined ? 1 : Number(vcpuText);
  if (!Number.isInteger(vcpus) || vcpus < 1) throw new DomainXmlParseError(`domain XML has an invalid <vcpu> "${vcpuText}"`);

  const devices = child(domain, 'devices');
  const parsed: ParsedDomain = {
    uuid: uuid.toLowerCase(),
    name,
    type: attr(domain, 'type') ?? '',
    memoryMiB: memoryMiB(child(domain, 'memory')),
    vcpus,
    disks: list(devices, 'disk').map(parseDisk),
    interfaces: list(devices, 'interface').map(parseInterface),
  };
  const title = text(domain, 'title');
  if (title !== undefined) parsed.title = title;

  const found = droverRecord(domain);
  if (found !== undefined) {
    const p = found.prefix === '' ? '' : `${found.prefix}:`;
    const owner = child(found.record, `${p}owner`);
    const namespace = attr(owner, 'namespace');
    const ownerName = attr(owner, 'name');
    // A record without a complete owner proves nothing: treat the domain as not Drover's.
    if (namespace && ownerName) parsed.owner = { namespace, name: ownerName };
    const specHash = text(found.record, `${p}specHash`);
    if (specHash) parsed.specHash = specHash;
    const generation = Number(text(found.record, `${p}generation`) ?? NaN);
    if (Number.isInteger(generation)) parsed.generation = generation;
  }
  return parsed;
}
