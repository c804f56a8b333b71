/**
 * Deterministic MAC addresses for NICs whose MAC the user did not choose.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';

/**
 * Prefix of every generated MAC. `52:54:00` is the prefix QEMU and libvirt
 * use for the MACs they generate, so tools and people recognise these as
 * VM NICs. It is not an IEEE-assigned OUI: the first octet `0x52` =
 * `0101 0010` has the U/L bit (bit 1) set, i.e. locally administered, so it
 * can never collide with a vendor's burned-in address; and its I/G bit
 * (bit 0) is clear, i.e. unicast, as a NIC's own address must be.
 */
export const MAC_PREFIX = '52:54:00';

/**
 * A MAC `52:54:00:xx:xx:xx` whose last three octets are the first three
 * bytes of SHA-256(`seed`). The same seed always yields the same MAC, so
 * it survives restarts and migrations without being stored anywhere; the
 * operator still records it in status, where identity lives. Use a seed
 * that is unique per NIC, e.g. `${vmUid}/${nicName}`.
 *
 * Only 24 bits vary, so two seeds collide with probability about n²/2²⁵
 * for n NICs on one L2 segment (~3% at 1 000 NICs): the caller must check
 * for duplicates on the segment and re-seed (e.g. append `/1`) on collision.
 */
export function generateMac(seed: string): string {
  const digest = createHash('sha256').update(seed, 'utf8').digest();
  const tail = [digest[0], digest[1], digest[2]].map((b) => (b ?? 0).toString(16).padStart(2, '0'));
  return [MAC_PREFIX, ...tail].join(':');
}
