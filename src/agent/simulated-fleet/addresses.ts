/**
 * Loopback addresses for a fleet of simulated agents in one process. Each
 * agent needs an address of its own, not just a port: the operator derives
 * a host's migration destination (`qemu+tcp://<address>/system`) from its
 * address alone. Linux routes all of 127.0.0.0/8 to `lo`, so any of them
 * can be listened on without configuration.
 *
 * @packageDocumentation
 */

/** Where fleets start by default: clear of 127.0.0.1, which other local services use. */
export const DEFAULT_FIRST_FLEET_ADDRESS = '127.0.1.1';

function toNumber(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`not an IPv4 address: ${address}`);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

function toAddress(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * `count` consecutive loopback addresses from `first`, skipping the
 * network (.0) and broadcast (.255) addresses of each /24, which some tools
 * refuse.
 *
 * @throws RangeError when `first` is not in 127.0.0.0/8 or the range leaves it.
 */
export function fleetAddresses(count: number, first = DEFAULT_FIRST_FLEET_ADDRESS): string[] {
  let n = toNumber(first);
  const out: string[] = [];
  while (out.length < count) {
    if (n >>> 24 !== 127) throw new RangeError(`fleet addresses must stay in 127.0.0.0/8; ${toAddress(n)} is not`);
    const last = n & 255;
    if (last !== 0 && last !== 255) out.push(toAddress(n));
    n += 1;
  }
  return out;
}

/** A fleet member's identity: its Host name (also its certificate's CN) and address. */
export interface FleetHost {
  name: string;
  address: string;
}

/** Default prefix of fleet host names (`sim-1`, `sim-2`, ...). */
export const DEFAULT_FLEET_NAME_PREFIX = 'sim';

/** The names and addresses of a fleet of `count` hosts: `<namePrefix>-<n>` (n from 1) at {@link fleetAddresses}. */
export function fleetHosts(count: number, options: { namePrefix?: string; firstAddress?: string } = {}): FleetHost[] {
  const prefix = options.namePrefix ?? DEFAULT_FLEET_NAME_PREFIX;
  return fleetAddresses(count, options.firstAddress).map((address, i) => ({ name: `${prefix}-${i + 1}`, address }));
}
