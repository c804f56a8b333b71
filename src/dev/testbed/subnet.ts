/** IPv4 subnet arithmetic for the test bed's management network. */

/** A parsed IPv4 subnet. */
export interface TestbedSubnet {
  /** As given, normalised: `10.247.83.0/24`. */
  cidr: string;
  /** Network address, `10.247.83.0`. */
  network: string;
  prefixLength: number;
  /** The root namespace's address on the management bridge (network + 1). */
  gateway: string;
}

/**
 * Default management subnet. In 10.0.0.0/8 (never routed outside), with a
 * second and third octet chosen to be unlikely to collide with Docker, libvirt,
 * Kubernetes or VPN defaults.
 */
export const DEFAULT_SUBNET = '10.247.83.0/24';

/** Offset of host n (1-based) within the subnet: host 1 is `.11`. */
export const HOST_OFFSET = 10;

/** Offset of guest n (1-based) within the subnet: guest 1 is `.101`. */
export const GUEST_OFFSET = 100;

function toInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new Error(`invalid IPv4 address: ${ip}`);
    n = n * 256 + Number(p);
  }
  return n;
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/len` (prefix 8..24), rejecting host bits and subnets outside 10.0.0.0/8. */
export function parseSubnet(cidr: string): TestbedSubnet {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`invalid subnet (want a.b.c.d/len): ${cidr}`);
  const prefixLength = Number(m[2]);
  // Hosts sit at .11+ and guests at .101+, so a /24 is the smallest that fits.
  if (prefixLength < 8 || prefixLength > 24) throw new Error(`subnet prefix must be /8../24: ${cidr}`);
  const base = toInt(m[1]);
  const mask = (0xffffffff << (32 - prefixLength)) >>> 0;
  if ((base & ~mask) >>> 0 !== 0) throw new Error(`subnet has host bits set: ${cidr}`);
  // Traffic must stay on this machine; 10/8 is private and is what the test
  // bed is documented to use, so refuse anything else rather than risk
  // shadowing a real route.
  if (base >>> 24 !== 10) throw new Error(`test bed subnet must be inside 10.0.0.0/8: ${cidr}`);
  const network = toIp(base);
  return { cidr: `${network}/${prefixLength}`, network, prefixLength, gateway: toIp(base + 1) };
}

/** The address `offset` hosts into the subnet (offset 1 = gateway). Throws when outside the subnet. */
export function addressAt(subnet: TestbedSubnet, offset: number): string {
  const size = 2 ** (32 - subnet.prefixLength);
  if (!Number.isInteger(offset) || offset < 1 || offset >= size - 1) {
    throw new Error(`offset ${offset} is outside ${subnet.cidr}`);
  }
  return toIp(toInt(subnet.network) + offset);
}

/** Address of test host `index` (1-based). */
export function hostAddress(subnet: TestbedSubnet, index: number): string {
  return addressAt(subnet, HOST_OFFSET + index);
}

/** Address for guest `index` (1-based); guests sit on the same L2 as the hosts. */
export function guestAddress(subnet: TestbedSubnet, index: number): string {
  return addressAt(subnet, GUEST_OFFSET + index);
}

/** Whether `ip` lies inside `subnet`. */
export function inSubnet(ip: string, subnet: TestbedSubnet): boolean {
  const mask = (0xffffffff << (32 - subnet.prefixLength)) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(subnet.network) & mask) >>> 0);
}
