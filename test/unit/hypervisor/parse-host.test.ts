/** Host-level virsh parsers against output captured from a test-bed host. */
import { domcapsSaysKvm, domcapsUsableCpuModels, parseCapabilities, parseNodeInfoMemory, parseVersion } from '../../../src/hypervisor/libvirt/parse-host.js';
import { fixture } from './fixtures.js';

describe('parseCapabilities', () => {
  const caps = parseCapabilities(fixture('capabilities.xml'));

  it('reads the host UUID (libvirtd.conf host_uuid of the test host)', () => {
    expect(caps.hostUUID).toBe('245304c2-9177-4955-91d2-7b4a85bc4ea2');
  });

  it('reads CPU model, vendor, topology and feature flags of the host, not of the guests', () => {
    expect(caps.cpu).toMatchObject({ model: 'kvm64', vendor: 'AMD', sockets: 1, cores: 2, threads: 1 });
    expect(caps.cpu.flags).toContain('avx2');
    expect(caps.cpu.flags).toContain('sse4.2');
    expect(caps.cpu.flags[0]).toBe('vme');
    // Every <feature name=…/> inside <host><cpu>, none of <guest>'s <features>.
    const hostPart = fixture('capabilities.xml').split('</cpu>')[0] ?? '';
    expect(caps.cpu.flags).toHaveLength([...hostPart.matchAll(/<feature name='/g)].length);
    expect(caps.cpu.flags).not.toContain('acpi');
  });

  it('folds dies into sockets and survives a missing topology', () => {
    const doc = `<capabilities><host><uuid>u</uuid><cpu><arch>x86_64</arch><topology sockets='2' dies='2' cores='4' threads='2'/><feature name='x'/></cpu></host></capabilities>`;
    expect(parseCapabilities(doc).cpu).toEqual({ sockets: 4, cores: 4, threads: 2, flags: ['x'] });
    expect(parseCapabilities('<capabilities><host><uuid>u</uuid></host></capabilities>').cpu).toEqual({ sockets: 1, cores: 1, threads: 1, flags: [] });
  });

  it('refuses a document without a host UUID', () => {
    expect(() => parseCapabilities('<capabilities><host/></capabilities>')).toThrow(/uuid/);
  });
});

describe('parseNodeInfoMemory / parseVersion / domcapsSaysKvm', () => {
  it('converts nodeinfo KiB to bytes', () => {
    expect(parseNodeInfoMemory(fixture('nodeinfo.txt'))).toBe(9922772 * 1024);
    expect(() => parseNodeInfoMemory('CPU(s): 2\n')).toThrow(/Memory size/);
  });

  it('reads the library and the running hypervisor version (not the API version)', () => {
    expect(parseVersion(fixture('version.txt'))).toEqual({ libvirtVersion: '9.0.0', qemuVersion: '7.2.22' });
    expect(() => parseVersion('Compiled against library: libvirt 9.0.0\n')).toThrow();
  });

  it('lists the usable named CPU models of domain capabilities, and none when custom mode is unsupported', () => {
    expect(domcapsUsableCpuModels(fixture('domcaps-kvm.xml'))).toEqual(['486', 'pentium', 'pentium2', 'pentium3']);
    expect(domcapsUsableCpuModels("<domainCapabilities><cpu><mode name='custom' supported='no'/></cpu></domainCapabilities>")).toEqual([]);
    expect(
      domcapsUsableCpuModels("<cpu><mode name='custom' supported='yes'><model usable='yes' vendor='Intel' canonical='Nehalem-v1'>Nehalem</model><model usable='no'>EPYC</model><model usable='yes'>Nehalem</model></mode></cpu>"),
    ).toEqual(['Nehalem']);
  });

  it('recognises KVM domain capabilities', () => {
    expect(domcapsSaysKvm(fixture('domcaps-kvm.xml'))).toBe(true);
    expect(domcapsSaysKvm('<domainCapabilities><domain>qemu</domain></domainCapabilities>')).toBe(false);
  });
});
