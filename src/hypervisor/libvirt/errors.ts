/**
 * Maps libvirt's error messages (as virsh prints them) to {@link DriverErrorKind}s.
 *
 * libvirt reports errors as text with a coarse code prefix ("XML error:",
 * "operation failed:", "internal error:"). The prefix alone is not enough
 * (a disk lock conflict arrives as an "internal error"), so the rules below
 * look at the whole message, most specific first.
 *
 * @packageDocumentation
 */
import { DriverError, type DriverErrorKind } from '../driver.js';

/** One classification rule: the first rule whose pattern matches wins. */
interface Rule {
  kind: DriverErrorKind;
  pattern: RegExp;
}

/**
 * Order matters: a lease conflict is reported wrapped in "internal error:
 * qemu unexpectedly closed the monitor", and a connection failure can
 * mention a domain, so those come before the generic rules.
 */
const RULES: readonly Rule[] = [
  // Connection to libvirtd (or, for p2p migration, from it to the destination).
  {
    kind: 'Unavailable',
    pattern:
      /failed to connect to the hypervisor|unable to connect to server|Connection refused|No route to host|Connection reset|End of file while reading data|Cannot recv data|Cannot write data|client socket is closed|connection closed|Broken pipe|timed out/i,
  },
  // Leases and disk locks, as captured on the test bed (libvirt 9.0, QEMU 7.2):
  // - lockd (virtlockd) refusing a lease another host holds, for an explicit
  //   <lease> or an automatic disk lease:
  //   "resource busy: Lockspace resource '<key>' is locked";
  // - QEMU's own image locking, which fires first for a disk that another
  //   QEMU has open (QEMU opens images before libvirt acquires leases, at the
  //   start of the guest CPUs): "... Failed to get "write" lock / Is another
  //   process using the image [...]";
  // - sanlock's wording (quoted from libvirt's sanlock driver, not captured:
  //   no sanlock here): "Failed to acquire lock: ...".
  {
    kind: 'LeaseHeld',
    pattern:
      /Lockspace resource '[^']*' is locked|Failed to get "?(write|shared "?write|read)"? lock|Failed to acquire lock|resource busy|Lease is held|lockspace.*in use/i,
  },
  { kind: 'NotFound', pattern: /Domain not found|failed to get domain|no domain with matching/i },
  {
    kind: 'Conflict',
    pattern: /already (active|running)|is not running|domain is not running|already exists|Requested operation is not valid|has active block job|another migration job/i,
  },
  // A CPU model this host cannot give (captured at start, libvirt 9.0: define accepts any name):
  // "internal error: Unknown CPU model NoSuchCpu", "the CPU is incompatible with host CPU: Host CPU
  // does not provide required features: ...". The spec asks for what this host lacks: not a failure to retry.
  {
    kind: 'InvalidSpec',
    pattern:
      /XML error|unsupported configuration|cannot parse|XML document failed to validate|\(domain_definition\)|Premature end of data|invalid argument|Cannot access storage file|does not support machine type|unknown OS type|Unable to find any usable hypervisor|Unknown CPU model|CPU is incompatible with host CPU/i,
  },
];

/** Strips virsh's `error: ` prefixes and joins the message lines into one line. */
export function cleanVirshMessage(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^error:\s*Reconnected to the hypervisor\s*$/.test(l.trim()))
    .map((l) => l.replace(/^error:\s*/, '').trim())
    .filter((l) => l !== '' && l !== '(null)' && l !== '^')
    .join(': ');
}

/** The kind of a libvirt error message; `Failed` when no rule matches. */
export function classifyLibvirtError(message: string): DriverErrorKind {
  for (const rule of RULES) if (rule.pattern.test(message)) return rule.kind;
  return 'Failed';
}

/** A {@link DriverError} for a failed virsh command's stderr. */
export function driverErrorFromVirsh(stderr: string, fallback: string): DriverError {
  const message = cleanVirshMessage(stderr) || fallback;
  return new DriverError(classifyLibvirtError(message), message);
}
