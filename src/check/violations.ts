/**
 * The one invariant of VM high availability: a VM (a libvirt domain UUID)
 * runs at most once across all hosts. Pure functions over what each host
 * reported; sampling lives in sample.ts.
 *
 * "Runs" means a QEMU that executes, or has executed, the guest and holds
 * its disks. Two instances that libvirt itself keeps apart are not a double
 * run: the paused, incoming side of a live migration, and a QEMU still
 * starting up (started with -S, before its disks' leases are taken; a start
 * refused because another host holds the lease dies in that state).
 */

/** A domain libvirt reports active on a host. */
export interface LibvirtDomain {
  uuid: string;
  name: string;
  /** virDomainState (1 running, 3 paused, ...); undefined when libvirt did not say. */
  state?: number;
  /** The state's reason (virDomain<State>Reason). */
  reason?: number;
}

/** A QEMU process libvirt started (it has `-uuid`), found in a host's namespaces. */
export interface QemuProcess {
  uuid: string;
  name: string;
  pid: number;
}

/** What one host reported at one moment. */
export interface HostSample {
  /** Host label: a test host name or a libvirt URI. */
  host: string;
  /** Active domains per libvirt (empty when libvirt could not be asked). */
  domains: LibvirtDomain[];
  /**
   * QEMU processes seen directly and still alive after every host of the
   * round answered (test hosts only; absent when not known).
   */
  processes?: QemuProcess[];
  /** Why libvirt could not be asked (not a violation by itself). */
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

/** virDomainState values used here. */
const STATE_PAUSED = 3;
/** virDomainPausedReason values of a QEMU that has not taken over the guest: MIGRATION (incoming side), STARTING_UP, POSTCOPY (the source once post-copy switched over). */
const NOT_YET_OR_NO_LONGER_RUNNING = new Set([2, 11, 12]);

/** Whether an active libvirt domain counts as a running instance. */
export function countsAsRunning(d: LibvirtDomain): boolean {
  return !(d.state === STATE_PAUSED && d.reason !== undefined && NOT_YET_OR_NO_LONGER_RUNNING.has(d.reason));
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * Parses the output of `virsh 'list --uuid --name; domstats --state --list-active'`:
 * `<uuid> <name>` lines, then per domain a `Domain: '<name>'` block with
 * `state.state=N` and `state.reason=N`.
 */
export function parseVirshDomains(text: string): LibvirtDomain[] {
  const byName = new Map<string, LibvirtDomain>();
  let current: LibvirtDomain | undefined;
  for (const line of text.split('\n')) {
    const listed = new RegExp(`^\\s*(${UUID})\\s+(\\S.*?)\\s*$`, 'i').exec(line);
    if (listed?.[1] && listed[2]) {
      byName.set(listed[2], { uuid: listed[1].toLowerCase(), name: listed[2] });
      continue;
    }
    const header = /^Domain: '(.*)'\s*$/.exec(line);
    if (header) {
      current = byName.get(header[1]!);
      continue;
    }
    const field = /^\s+state\.(state|reason)=(\d+)\s*$/.exec(line);
    if (field && current) current[field[1] as 'state' | 'reason'] = Number(field[2]);
  }
  return [...byName.values()];
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
 * Instances of each domain on one host. Without process information (a
 * libvirt URI) libvirt's word decides. With it (test hosts) the QEMU
 * processes still alive when the whole round's answers were in decide, so
 * that every host's count refers to about the same instant; libvirt only
 * takes away the one process it says is starting up or migrating in. A
 * domain libvirt listed whose process is gone by then no longer runs.
 */
function hostInstances(s: HostSample): Map<string, { name: string; count: number }> {
  const out = new Map<string, { name: string; count: number }>();
  if (s.processes === undefined) {
    for (const d of s.domains) out.set(d.uuid, { name: d.name, count: countsAsRunning(d) ? 1 : 0 });
    return out;
  }
  const listed = new Map(s.domains.map((d) => [d.uuid, d]));
  for (const p of s.processes) {
    const e = out.get(p.uuid) ?? { name: listed.get(p.uuid)?.name || p.name, count: 0 };
    e.count++;
    out.set(p.uuid, e);
  }
  for (const [uuid, e] of out) {
    const d = listed.get(uuid);
    if (d && !countsAsRunning(d)) e.count--;
  }
  return out;
}

/** Every domain UUID with more than one running instance across `samples`. */
export function findViolations(samples: readonly HostSample[]): Violation[] {
  const byUuid = new Map<string, { name: string; hosts: string[] }>();
  for (const s of samples) {
    for (const [uuid, e] of hostInstances(s)) {
      const v = byUuid.get(uuid) ?? { name: e.name, hosts: [] };
      if (!v.name) v.name = e.name;
      for (let i = 0; i < e.count; i++) v.hosts.push(s.host);
      byUuid.set(uuid, v);
    }
  }
  const out: Violation[] = [];
  for (const [uuid, v] of byUuid) {
    if (v.hosts.length > 1) out.push({ uuid, name: v.name, hosts: [...v.hosts].sort(), instances: v.hosts.length });
  }
  return out.sort((a, b) => a.uuid.localeCompare(b.uuid));
}
