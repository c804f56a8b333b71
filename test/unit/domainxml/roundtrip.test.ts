/**
 * parseDomainXml(buildDomainXml(spec)) gives back what the agent relies on:
 * identity, ownership, spec hash, sizes, disks and MACs.
 */
import { vcpuCount } from '../../../src/hypervisor/domainxml/cpu.js';
import { buildDomainXml } from '../../../src/hypervisor/domainxml/domain.js';
import { computeSpecHash } from '../../../src/hypervisor/domainxml/metadata.js';
import { parseDomainXml } from '../../../src/hypervisor/domainxml/parse.js';
import { clone, goldenSpecs, tcgMinimal } from './specs.js';

describe.each(Object.entries(goldenSpecs))('round trip of %s', (_name, spec) => {
  const parsed = parseDomainXml(buildDomainXml(spec));

  it('gives back uid, name, type, title and owner', () => {
    expect(parsed.uuid).toBe(spec.uid);
    expect(parsed.name).toBe(spec.name);
    expect(parsed.type).toBe(spec.hypervisor);
    expect(parsed.title).toBe(spec.title);
    expect(parsed.owner).toEqual(spec.owner);
  });

  it('gives back the spec hash (given or computed) and generation', () => {
    expect(parsed.specHash).toBe(spec.specHash ?? computeSpecHash(spec));
    expect(parsed.generation).toBe(spec.generation);
  });

  it('gives back memory and vCPU count', () => {
    expect(parsed.memoryMiB).toBe(spec.memoryMiB);
    expect(parsed.vcpus).toBe(vcpuCount(spec.cpu));
  });

  it('gives back every disk by name with path, format, bus and read-only flag', () => {
    expect(parsed.disks.map((d) => ({ name: d.name, path: d.path, format: d.format, bus: d.bus, readOnly: d.readOnly }))).toEqual(
      spec.disks.map((d) => ({
        name: d.name,
        path: d.path,
        format: d.format,
        bus: d.bus,
        readOnly: d.readOnly === true || d.device === 'cdrom',
      })),
    );
    expect(new Set(parsed.disks.map((d) => d.target)).size).toBe(spec.disks.length);
  });

  it('gives back every NIC by name with MAC and bridge', () => {
    expect(parsed.interfaces.map((n) => ({ name: n.name, mac: n.mac, bridge: n.bridge, model: n.model }))).toEqual(
      spec.interfaces.map((n) => ({ name: n.name, mac: n.mac, bridge: n.bridge, model: n.model })),
    );
  });
});

describe('round trip of XML-special characters', () => {
  it('escapes and restores &, <, >, quotes in title, owner and paths', () => {
    const spec = clone(tcgMinimal);
    spec.title = `a&b <c> "d" 'e'`;
    spec.owner = { namespace: 'ns', name: `we"ird&<name>` };
    spec.disks[0]!.path = `/srv/it's & <here>.qcow2`;
    spec.boot!.cmdline = `console=ttyS0 init="/bin/sh -c 'a && b'"`;
    const xml = buildDomainXml(spec);
    expect(xml).not.toContain('a&b');
    expect(xml).toContain('a&amp;b &lt;c&gt;');
    const parsed = parseDomainXml(xml);
    expect(parsed.title).toBe(spec.title);
    expect(parsed.owner).toEqual(spec.owner);
    expect(parsed.disks[0]?.path).toBe(spec.disks[0]!.path);
  });
});
