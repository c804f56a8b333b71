/**
 * The one invariant of VM high availability: a VM (a libvirt domain UUID)
 * runs at most once across all hosts. Pure functions over what each host
 * reported; sampling lives in sample.ts.
 */

/** One active instance of a domain seen on a host. */
export interface DomainInstance {
  uuid: string;
  name: string;
  /** Where it was seen: libvirt's list of active domains, or a QEMU process (pid). */
  source: 'libvirt' | { pid: number };
}

/** What one host reported at one moment. */
export interface HostSample {
  /** Host label: a test host name or a libvirt URI. */
  host: string;
  instances: DomainInstance[];
  /** Why the host could not be asked (it reported nothing then, which is not a violation). */
  error?: string;
}

/** A domain with more than one running instance. */
export interface Violation {
  uuid: string;
  name: string;
  /** Hosts it runs on (a host twice when two QEMUs of it run there). */
  hosts: string[];
  /** Number of instances counted. */
  instances: number;
}

/**
 * Parses `virsh list --uuid --name` (active domains only): one
 * `<uuid> <name>` per line. Other lines (blank) are skipped.
 */
export function parseVirshList(text: string): DomainInstance[] {
  const out: DomainInstance[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s+(\S.*?)\s*$/i.exec(line);
    if (m?.[1] && m[2]) out.push({ uuid: m[1].toLowerCase(), name: m[2], source: 'libvirt' });
  }
  return out;
}

/**
 * The domain a QEMU command line runs (`-uuid U`, `-name guest=N,...` or
 * `-name N`), or undefined for a QEMU libvirt did not start (no `-uuid`).
 */
export function qemuDomain(argv: readonly string[]): { uuid: string; name: string } | undefined {
  let uuid: string | undefined;
  let name = '';
  for (let i = 0; i < argv.length - 1; i++) {
    if (argv[i] === '-uuid') uuid = argv[i + 1]!.toLowerCase();
    if (argv[i] === '-name') {
      const value = argv[i + 1]!;
      // libvirt writes guest=<name> with ',' doubled inside the name.
      const guest = /^guest=((?:[^,]|,,)*)/.exec(value)?.[1] ?? (value.includes('=') ? '' : value.split(',')[0]!);
      name = guest.replace(/,,/g, ',');
    }
  }
  return uuid ? { uuid, name } : undefined;
}

/**
 * Every domain UUID with more than one instance across `samples`. Per host,
 * libvirt's entry and the QEMU processes of the same UUID are one instance
 * (libvirt lists the process it runs), unless there are more processes than
 * that: two QEMUs of one domain on one host are two instances.
 */
export function findViolations(samples: readonly HostSample[]): Violation[] {
  const byUuid = new Map<string, { name: string; hosts: string[] }>();
  for (const s of samples) {
    const perUuid = new Map<string, { name: string; libvirt: boolean; pids: Set<number> }>();
    for (const inst of s.instances) {
      const e = perUuid.get(inst.uuid) ?? { name: inst.name, libvirt: false, pids: new Set<number>() };
      if (!e.name) e.name = inst.name;
      if (inst.source === 'libvirt') e.libvirt = true;
      else e.pids.add(inst.source.pid);
      perUuid.set(inst.uuid, e);
    }
    for (const [uuid, e] of perUuid) {
      const count = Math.max(e.libvirt ? 1 : 0, e.pids.size);
      const v = byUuid.get(uuid) ?? { name: e.name, hosts: [] };
      if (!v.name) v.name = e.name;
      for (let i = 0; i < count; i++) v.hosts.push(s.host);
      byUuid.set(uuid, v);
    }
  }
  const out: Violation[] = [];
  for (const [uuid, v] of byUuid) {
    if (v.hosts.length > 1) out.push({ uuid, name: v.name, hosts: [...v.hosts].sort(), instances: v.hosts.length });
  }
  return out.sort((a, b) => a.uuid.localeCompare(b.uuid));
}
