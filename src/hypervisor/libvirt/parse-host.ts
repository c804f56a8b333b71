/**
 * Parsers for host-level virsh output: `capabilities` (XML), `nodeinfo`,
 * `version` and `domcapabilities`. Pure functions over text.
 *
 * @packageDocumentation
 */
import { XMLParser } from 'fast-xml-parser';
import type { HostCapabilities } from '../driver.js';

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Repeated elements are arrays even when there is only one of them.
  isArray: (name) => name === 'feature',
  parseAttributeValue: false,
  parseTagValue: false,
});

type Node = Record<string, unknown>;

function child(node: unknown, key: string): Node | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  const v = (node as Node)[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : undefined;
}

function text(node: unknown, key: string): string | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  const v = (node as Node)[key];
  if (typeof v === 'string') return v.trim();
  if (v !== null && typeof v === 'object' && typeof (v as Node)['#text'] === 'string') return ((v as Node)['#text'] as string).trim();
  return undefined;
}

function intAttr(node: Node | undefined, name: string, fallback: number): number {
  const raw = node?.[`@_${name}`];
  const n = typeof raw === 'string' ? Number.parseInt(raw, 10) : NaN;
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** The host part of `virsh capabilities`. */
export type ParsedCapabilities = Pick<HostCapabilities, 'hostUUID' | 'cpu'>;

/**
 * Host UUID and CPU from `virsh capabilities`. `flags` are the CPU feature
 * names libvirt lists beyond the named model, in document order.
 *
 * @throws Error when the document has no `<host><uuid>`.
 */
export function parseCapabilities(doc: string): ParsedCapabilities {
  const host = child(child(xml.parse(doc), 'capabilities'), 'host');
  const hostUUID = text(host, 'uuid');
  if (!hostUUID) throw new Error('virsh capabilities: no <host><uuid>');
  const cpu = child(host, 'cpu');
  const topology = child(cpu, 'topology');
  const features = (cpu?.['feature'] as Node[] | undefined) ?? [];
  const flags = features.map((f) => f['@_name']).filter((n): n is string => typeof n === 'string');
  const model = text(cpu, 'model');
  const vendor = text(cpu, 'vendor');
  return {
    hostUUID,
    cpu: {
      ...(model ? { model } : {}),
      ...(vendor ? { vendor } : {}),
      // libvirt counts dies separately; Drover's topology has no dies, so fold them into sockets.
      sockets: intAttr(topology, 'sockets', 1) * intAttr(topology, 'dies', 1),
      cores: intAttr(topology, 'cores', 1),
      threads: intAttr(topology, 'threads', 1),
      flags,
    },
  };
}

/** Memory of the host in bytes from `virsh nodeinfo` ("Memory size: 9922772 KiB"). */
export function parseNodeInfoMemory(out: string): number {
  const m = /^Memory size:\s+(\d+)\s*KiB\s*$/m.exec(out);
  if (!m?.[1]) throw new Error('virsh nodeinfo: no "Memory size" line');
  return Number.parseInt(m[1], 10) * 1024;
}

/** libvirt and QEMU versions from `virsh version`. */
export function parseVersion(out: string): { libvirtVersion: string; qemuVersion: string } {
  const libvirt = /^Using library: libvirt (\S+)/m.exec(out)?.[1];
  const qemu = /^Running hypervisor: QEMU (\S+)/m.exec(out)?.[1];
  if (!libvirt || !qemu) throw new Error('virsh version: missing "Using library" or "Running hypervisor: QEMU" line');
  return { libvirtVersion: libvirt, qemuVersion: qemu };
}

/**
 * The named CPU models `virsh domcapabilities` calls usable: those this
 * host's QEMU (and, under KVM, its CPU) can give with every feature, so a
 * domain asking for one starts. Sorted, without duplicates; empty when the
 * custom mode is not supported.
 */
export function domcapsUsableCpuModels(doc: string): string[] {
  const mode = /<mode\s+name=['"]custom['"]([^>]*)>([\s\S]*?)<\/mode>/.exec(doc);
  if (!mode || !/\bsupported=['"]yes['"]/.test(mode[1] ?? '')) return [];
  const models = [...(mode[2] ?? '').matchAll(/<model\b([^>]*)>([^<]+)<\/model>/g)]
    .filter(([, attrs]) => /\busable=['"]yes['"]/.test(attrs ?? ''))
    .map(([, , name]) => name!.trim());
  return [...new Set(models)].sort();
}

/** Whether `virsh domcapabilities --virttype kvm` describes a KVM domain type. */
export function domcapsSaysKvm(doc: string): boolean {
  const root = child(xml.parse(doc), 'domainCapabilities');
  return text(root, 'domain') === 'kvm';
}
