/**
 * parseDomainXml against what libvirt hands back: hand-written `virsh
 * dumpxml` output of a running Drover domain and of a foreign domain (both
 * in libvirt 9 / QEMU 7.2 shape, checked with virt-xml-validate), plus a
 * dump produced by libvirt 9.0 itself (test driver) from one golden file.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainXmlParseError, parseDomainXml } from '../../../src/hypervisor/domainxml/parse.js';

const fixture = (name: string): string =>
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

/** A small domain around a metadata block, for the metadata edge cases. */
const withMetadata = (metadata: string): string => `<domain type='kvm'>
  <name>x</name>
  <uuid>11111111-2222-4333-8444-555555555555</uuid>
  <metadata>${metadata}</metadata>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <devices/>
</domain>`;

describe('parseDomainXml: running Drover domain (virsh dumpxml)', () => {
  const d = parseDomainXml(fixture('running-drover-tcg.xml'));

  it('reads identity and type', () => {
    expect(d.uuid).toBe('6f1c9a52-3e1b-4b7e-9a57-2d7f0c1e8a01');
    expect(d.name).toBe('demo_tiny');
    expect(d.type).toBe('qemu');
    expect(d.title).toBe('demo/tiny');
  });

  it('reads the Drover record', () => {
    expect(d.owner).toEqual({ namespace: 'demo', name: 'tiny' });
    expect(d.specHash).toBe('2ada8dee16ad858697c47ca3aa6e76612c7d758792defa3ceef99f58d32e097b');
    expect(d.generation).toBe(3);
  });

  it('reads sizes', () => {
    expect(d.memoryMiB).toBe(256);
    expect(d.vcpus).toBe(1);
  });

  it('reads the single disk as a list, ignoring index/backingStore/address', () => {
    expect(d.disks).toEqual([
      {
        target: 'vda',
        bus: 'virtio',
        device: 'disk',
        path: '/srv/drover/sd-shared/demo/tiny-root.qcow2',
        format: 'qcow2',
        readOnly: false,
        name: 'root',
      },
    ]);
  });

  it('reads the single NIC as a list, ignoring the tap target and address', () => {
    expect(d.interfaces).toEqual([
      { mac: '52:54:00:3a:7c:01', type: 'bridge', bridge: 'br0', model: 'virtio', name: 'default' },
    ]);
  });
});

describe('parseDomainXml: foreign domain (virt-install, no Drover metadata)', () => {
  const d = parseDomainXml(fixture('foreign-virt-install.xml'));

  it('has no owner, spec hash or generation: it is not Drover’s', () => {
    expect(d.owner).toBeUndefined();
    expect(d.specHash).toBeUndefined();
    expect(d.generation).toBeUndefined();
  });

  it('still reads identity and sizes (vcpu is the maximum, memory the maximum)', () => {
    expect(d.uuid).toBe('d2a0f6e4-8c1b-4e55-9b0a-7f3c2e1d0b9a');
    expect(d.name).toBe('debian12');
    expect(d.type).toBe('kvm');
    expect(d.title).toBeUndefined();
    expect(d.vcpus).toBe(4);
    expect(d.memoryMiB).toBe(2048);
  });

  it('reads file, block and empty cdrom disks without inventing names', () => {
    expect(d.disks).toEqual([
      { target: 'vda', bus: 'virtio', device: 'disk', path: '/var/lib/libvirt/images/debian12.qcow2', format: 'qcow2', readOnly: false },
      { target: 'vdb', bus: 'virtio', device: 'disk', path: '/dev/vg0/debian12-data', format: 'raw', readOnly: false },
      { target: 'sda', bus: 'sata', device: 'cdrom', readOnly: true },
    ]);
  });

  it('reads a network-type NIC with the bridge libvirt resolved', () => {
    expect(d.interfaces).toEqual([{ mac: '52:54:00:5e:11:a2', type: 'network', bridge: 'virbr0', model: 'virtio' }]);
  });
});

describe('parseDomainXml: dump written by libvirt 9.0 (test driver) from golden/kvm-iso-installer.xml', () => {
  const d = parseDomainXml(fixture('libvirt9-test-driver-dumpxml.xml'));

  it('keeps Drover metadata and user aliases through libvirt', () => {
    expect(d.owner).toEqual({ namespace: 'lab', name: 'installer' });
    expect(d.specHash).toBe('fixed-hash-for-golden');
    expect(d.disks.map((x) => [x.name, x.target, x.device, x.readOnly])).toEqual([
      ['root', 'vda', 'disk', false],
      ['install-iso', 'sda', 'cdrom', true],
    ]);
    expect(d.interfaces.map((x) => [x.name, x.mac, x.bridge])).toEqual([['default', '52:54:00:aa:bb:cc', 'br0']]);
  });
});

describe('parseDomainXml: metadata edge cases', () => {
  const record = (ns: string, prefix = 'drover'): string =>
    `<${prefix}:domain xmlns:${prefix}="${ns}"><${prefix}:owner namespace="ns1" name="vm1"/>` +
    `<${prefix}:specHash>abc</${prefix}:specHash></${prefix}:domain>`;

  it('finds the record by namespace URI under any prefix', () => {
    const d = parseDomainXml(withMetadata(record('https://drover.io/xmlns/domain/v1alpha1', 'dv')));
    expect(d.owner).toEqual({ namespace: 'ns1', name: 'vm1' });
    expect(d.specHash).toBe('abc');
  });

  it('finds a record that uses a default namespace', () => {
    const xml = withMetadata(
      '<domain xmlns="https://drover.io/xmlns/domain/v1alpha1"><owner namespace="ns2" name="vm2"/></domain>',
    );
    expect(parseDomainXml(xml).owner).toEqual({ namespace: 'ns2', name: 'vm2' });
  });

  it('ignores the drover prefix bound to another namespace (not Drover’s)', () => {
    const d = parseDomainXml(withMetadata(record('https://example.com/not-drover')));
    expect(d.owner).toBeUndefined();
    expect(d.specHash).toBeUndefined();
  });

  it('treats a record without a complete owner as not owned', () => {
    const xml = withMetadata(
      '<drover:domain xmlns:drover="https://drover.io/xmlns/domain/v1alpha1"><drover:owner namespace="ns"/></drover:domain>',
    );
    expect(parseDomainXml(xml).owner).toBeUndefined();
  });

  it('finds Drover’s record next to other tools’ records', () => {
    const xml = withMetadata(
      '<libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="x"/></libosinfo:libosinfo>' +
        record('https://drover.io/xmlns/domain/v1alpha1'),
    );
    expect(parseDomainXml(xml).owner).toEqual({ namespace: 'ns1', name: 'vm1' });
  });
});

describe('parseDomainXml: values and errors', () => {
  const domain = (memory: string, extra = ''): string =>
    `<?xml version="1.0"?>\n<domain type='kvm'><name>0123</name><uuid>AAAAAAAA-2222-4333-8444-555555555555</uuid>${memory}${extra}</domain>`;

  it.each([
    [`<memory unit='KiB'>1048576</memory>`, 1024],
    [`<memory>524288</memory>`, 512],
    [`<memory unit='MiB'>300</memory>`, 300],
    [`<memory unit='G'>2</memory>`, 2048],
    [`<memory unit='bytes'>1048576</memory>`, 1],
    [`<memory unit='KiB'>1000</memory>`, 1000 / 1024],
  ])('converts %s to %d MiB', (memory, mib) => {
    expect(parseDomainXml(domain(memory)).memoryMiB).toBeCloseTo(mib, 10);
  });

  it('keeps names as strings, lower-cases the UUID, tolerates a declaration and no devices', () => {
    const d = parseDomainXml(domain(`<memory>65536</memory>`));
    expect(d.name).toBe('0123');
    expect(d.uuid).toBe('aaaaaaaa-2222-4333-8444-555555555555');
    expect(d.vcpus).toBe(1);
    expect(d.disks).toEqual([]);
    expect(d.interfaces).toEqual([]);
  });

  it('lower-cases MACs', () => {
    const d = parseDomainXml(
      domain(`<memory>65536</memory>`, `<devices><interface type='bridge'><mac address='52:54:00:AB:CD:EF'/></interface></devices>`),
    );
    expect(d.interfaces[0]?.mac).toBe('52:54:00:ab:cd:ef');
  });

  it.each([
    ['truncated XML', '<domain type="kvm"><name>x</name><uuid>u</uuid>', /not well-formed/],
    ['another root element', '<network><name>default</name></network>', /no <domain>/],
    ['no name', `<domain><uuid>u</uuid><memory>1</memory></domain>`, /no <name>/],
    ['no uuid', `<domain><name>x</name><memory>1</memory></domain>`, /no <uuid>/],
    ['no memory', `<domain><name>x</name><uuid>u</uuid></domain>`, /<memory>/],
    ['unknown memory unit', `<domain><name>x</name><uuid>u</uuid><memory unit='parsec'>1</memory></domain>`, /<memory>/],
    ['bad vcpu', `<domain><name>x</name><uuid>u</uuid><memory>1</memory><vcpu>0</vcpu></domain>`, /<vcpu>/],
  ])('rejects %s', (_what, xml, message) => {
    expect(() => parseDomainXml(xml)).toThrow(DomainXmlParseError);
    expect(() => parseDomainXml(xml)).toThrow(message);
  });
});
