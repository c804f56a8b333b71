/**
 * What the simulated hypervisor reads from a domain XML document, with the
 * checks libvirt makes at define time, in libvirt's words (so the agent's
 * error mapping sees the same messages on both drivers).
 *
 * @packageDocumentation
 */
import { DomainXmlParseError, parseDomainXml } from '../domainxml/index.js';
import { DriverError } from '../driver.js';
import { domainXmlUuid } from '../libvirt/parse-domain.js';

/** The facts of a definition the simulator acts on. */
export interface SimulatedDefinition {
  uuid: string;
  name: string;
  /** Guest memory in bytes: what a live migration copies. */
  memoryBytes: number;
  /** Disk images QEMU would lock for writing (read-only ones and empty drives excluded). */
  writableDisks: string[];
  /** Every disk image path, which must exist when the domain starts. */
  diskPaths: string[];
  /**
   * The `<lease>` elements' resources (`<target path>/<lockspace>/<key>`, the
   * file virtlockd would lock): held fabric-wide while the domain runs, as
   * virtlockd holds them on the shared lockspace.
   */
  leases: string[];
}

/** What the simulator locks while the domain runs: its writable disks and its leases. */
export function lockedResources(def: SimulatedDefinition): string[] {
  return [...def.writableDisks, ...def.leases];
}

/** Host facts a definition is checked against. */
export interface DefinitionHost {
  hypervisorType: 'kvm' | 'qemu';
  /** QEMU version, e.g. "7.2.0": machine types newer than it do not exist. */
  qemuVersion: string;
}

/** `<os><type machine='…'>`, read with a pattern because ParsedDomain does not carry it. */
const MACHINE = /<os\b[^>]*>[\s\S]*?<type\b[^>]*\bmachine\s*=\s*(['"])(.*?)\1/;

/** `<lease>` elements, read with a pattern because ParsedDomain does not carry them. */
const LEASE = /<lease\b[^>]*>([\s\S]*?)<\/lease>/g;
const LEASE_PART = (tag: string) => new RegExp(`<${tag}\\b[^>]*>([^<]*)</${tag}>`);
const LEASE_TARGET = /<target\b[^>]*\bpath\s*=\s*(['"])(.*?)\1/;

/** The resources of the domain's `<lease>` elements (see {@link SimulatedDefinition.leases}). */
function leaseResources(xml: string): string[] {
  const found: string[] = [];
  for (const m of xml.matchAll(LEASE)) {
    const body = m[1] ?? '';
    const lockspace = LEASE_PART('lockspace').exec(body)?.[1]?.trim();
    const key = LEASE_PART('key').exec(body)?.[1]?.trim();
    const target = LEASE_TARGET.exec(body)?.[2];
    // libvirt refuses a lease without a key or lockspace; the simulator just does not lock it.
    if (lockspace && key && target) found.push(`${target}/${lockspace}/${key}`);
  }
  return found;
}

/** Versioned machine types QEMU knows (pc-i440fx-7.2, pc-q35-6.0, ...) and their aliases. */
const VERSIONED_MACHINE = /^pc-(?:i440fx|q35)-(\d+)\.(\d+)$/;

function machineKnown(machine: string, qemuVersion: string): boolean {
  if (machine === 'pc' || machine === 'q35') return true;
  const m = VERSIONED_MACHINE.exec(machine);
  if (!m) return false;
  const [major = 0, minor = 0] = qemuVersion.split('.').map(Number);
  const [mm, mn] = [Number(m[1]), Number(m[2])];
  // QEMU 7.2 still offers every pc machine back to 1.x (q35 from 2.x).
  return mm < major || (mm === major && mn <= minor);
}

/**
 * Reads and checks a domain definition.
 *
 * @throws DriverError `InvalidSpec` when libvirt would refuse it: not
 *   well-formed, no `<uuid>` (the real driver refuses that itself), a domain
 *   type the host cannot run, or a machine type its QEMU does not have.
 */
export function readDefinition(xml: string, host: DefinitionHost): SimulatedDefinition {
  if (domainXmlUuid(xml) === undefined) throw new DriverError('InvalidSpec', 'domain XML has no <uuid>');
  let parsed;
  try {
    parsed = parseDomainXml(xml);
  } catch (err) {
    if (err instanceof DomainXmlParseError) throw new DriverError('InvalidSpec', `XML error: ${err.message}`);
    throw err;
  }
  if (parsed.type !== 'qemu' && !(parsed.type === 'kvm' && host.hypervisorType === 'kvm')) {
    throw new DriverError('InvalidSpec', `invalid argument: could not find capabilities for domaintype=${parsed.type}`);
  }
  const machine = MACHINE.exec(xml)?.[2];
  if (machine !== undefined && !machineKnown(machine, host.qemuVersion)) {
    throw new DriverError('InvalidSpec', `unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not support machine type '${machine}'`);
  }
  const withPath = parsed.disks.filter((d) => d.path !== undefined);
  return {
    uuid: parsed.uuid,
    name: parsed.name,
    memoryBytes: Math.round(parsed.memoryMiB * 1024 * 1024),
    writableDisks: withPath.filter((d) => !d.readOnly).map((d) => d.path!),
    diskPaths: withPath.map((d) => d.path!),
    leases: leaseResources(xml),
  };
}
