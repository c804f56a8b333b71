/** Same spec → byte-identical XML and the same spec hash; a changed spec → a changed hash. */
import { buildDomainXml } from '../../../src/hypervisor/domainxml/domain.js';
import { computeSpecHash } from '../../../src/hypervisor/domainxml/metadata.js';
import type { DomainSpec } from '../../../src/hypervisor/domainxml/types.js';
import { clone, kvmTwoDisksTwoNics } from './specs.js';

/** The same value with every object's keys inserted in reverse order. */
function reverseKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reverseKeys) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    ) as T;
  }
  return value;
}

describe('determinism', () => {
  it('builds byte-identical XML for the same spec, call after call', () => {
    const first = buildDomainXml(kvmTwoDisksTwoNics);
    for (let i = 0; i < 5; i++) expect(buildDomainXml(clone(kvmTwoDisksTwoNics))).toBe(first);
  });

  it('does not depend on the key order of the spec objects', () => {
    const reordered = reverseKeys(kvmTwoDisksTwoNics);
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(kvmTwoDisksTwoNics)[0]);
    expect(buildDomainXml(reordered)).toBe(buildDomainXml(kvmTwoDisksTwoNics));
    expect(computeSpecHash(reordered)).toBe(computeSpecHash(kvmTwoDisksTwoNics));
  });

  it('uses 2-space indentation and ends with one newline', () => {
    const xml = buildDomainXml(kvmTwoDisksTwoNics);
    expect(xml.split('\n')[1]).toMatch(/^ {2}<name>/);
    expect(xml).toMatch(/\n {4}<disk /);
    expect(xml.endsWith('</domain>\n')).toBe(true);
    expect(xml).not.toContain('\t');
  });

  it('changes the spec hash when anything shaping the domain changes', () => {
    const base = computeSpecHash(kvmTwoDisksTwoNics);
    const changes: ((s: DomainSpec) => void)[] = [
      (s) => (s.memoryMiB += 1),
      (s) => (s.cpu.cores = 3),
      (s) => (s.disks[0]!.path = '/srv/other.qcow2'),
      (s) => s.disks.reverse(),
      (s) => (s.interfaces[1]!.mac = '52:54:00:10:00:03'),
      (s) => (s.hypervisor = 'qemu'),
      (s) => delete s.onLockFailure,
    ];
    const hashes = changes.map((change) => {
      const s = clone(kvmTwoDisksTwoNics);
      change(s);
      return computeSpecHash(s);
    });
    for (const h of hashes) expect(h).not.toBe(base);
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it('keeps the spec hash when only generation or a given specHash changes', () => {
    const s = clone(kvmTwoDisksTwoNics);
    s.generation = 99;
    s.specHash = 'whatever';
    expect(computeSpecHash(s)).toBe(computeSpecHash(kvmTwoDisksTwoNics));
    expect(computeSpecHash(s)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes a given specHash instead of computing one', () => {
    const s = clone(kvmTwoDisksTwoNics);
    s.specHash = 'from-the-operator';
    const xml = buildDomainXml(s);
    expect(xml).toContain('<drover:specHash>from-the-operator</drover:specHash>');
    expect(xml).not.toContain(computeSpecHash(s));
  });
});
