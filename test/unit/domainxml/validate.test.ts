/** validateDomainSpec: every error kind, each naming its field. */
import { buildDomainXml, InvalidDomainSpecError } from '../../../src/hypervisor/domainxml/domain.js';
import type { DomainSpec } from '../../../src/hypervisor/domainxml/types.js';
import { validateDomainSpec } from '../../../src/hypervisor/domainxml/validate.js';
import { clone, goldenSpecs, kvmTwoDisksTwoNics, tcgMinimal } from './specs.js';

/** Applies `change` to a copy of `base` and returns the errors. */
function errorsAfter(change: (s: DomainSpec) => void, base: DomainSpec = kvmTwoDisksTwoNics): string[] {
  const s = clone(base);
  change(s);
  return validateDomainSpec(s);
}

describe('validateDomainSpec', () => {
  it.each(Object.keys(goldenSpecs))('accepts the golden spec %s', (name) => {
    expect(validateDomainSpec(goldenSpecs[name]!)).toEqual([]);
  });

  it.each<[string, (s: DomainSpec) => void, RegExp]>([
    ['duplicate disk names', (s) => (s.disks[1]!.name = 'root'), /^disks\[1\]\.name: duplicate disk name "root" \(also disks\[0\]\)$/],
    [
      'duplicate explicit targets',
      (s) => {
        s.disks[0]!.target = 'vdb';
        s.disks.push({ name: 'extra', path: '/srv/x.qcow2', format: 'qcow2', bus: 'virtio', target: 'vdb' });
      },
      /^disks\[2\]\.target: duplicate target "vdb" \(also disks\[0\]\)$/,
    ],
    ['a target that does not fit the bus', (s) => (s.disks[1]!.target = 'vdc'), /^disks\[1\]\.target: "vdc" does not match bus "scsi"/],
    ['a malformed target', (s) => (s.disks[0]!.target = 'hda'), /^disks\[0\]\.target: "hda" is not a valid target name$/],
    ['duplicate MACs', (s) => (s.interfaces[1]!.mac = '52:54:00:10:00:01'), /^interfaces\[1\]\.mac: duplicate MAC "52:54:00:10:00:01" \(also interfaces\[0\]\)$/],
    ['an upper-case MAC', (s) => (s.interfaces[0]!.mac = '52:54:00:AA:00:01'), /^interfaces\[0\]\.mac: "52:54:00:AA:00:01" must match/],
    ['a dash-separated MAC', (s) => (s.interfaces[0]!.mac = '52-54-00-aa-00-01'), /^interfaces\[0\]\.mac: .* must match/],
    ['a short MAC', (s) => (s.interfaces[0]!.mac = '52:54:00:aa:00'), /^interfaces\[0\]\.mac: .* must match/],
    ['a multicast MAC', (s) => (s.interfaces[1]!.mac = '01:00:5e:00:00:fb'), /^interfaces\[1\]\.mac: "01:00:5e:00:00:fb" is a multicast address, must be unicast$/],
    ['the broadcast MAC', (s) => (s.interfaces[0]!.mac = 'ff:ff:ff:ff:ff:ff'), /^interfaces\[0\]\.mac: .*must be unicast$/],
    ['the all-zero MAC', (s) => (s.interfaces[0]!.mac = '00:00:00:00:00:00'), /^interfaces\[0\]\.mac: must not be all zeros$/],
    ['duplicate NIC names', (s) => (s.interfaces[1]!.name = 'frontend'), /^interfaces\[1\]\.name: duplicate interface name "frontend"/],
    ['a bad bridge name', (s) => (s.interfaces[0]!.bridge = 'br/0'), /^interfaces\[0\]\.bridge: "br\/0"/],
    ['a too long bridge name', (s) => (s.interfaces[0]!.bridge = 'b'.repeat(16)), /^interfaces\[0\]\.bridge: /],
    ['zero cores', (s) => (s.cpu.cores = 0), /^cpu\.cores: 0 must be a positive integer$/],
    ['fractional cores', (s) => (s.cpu.cores = 1.5), /^cpu\.cores: 1\.5 must be a positive integer$/],
    ['zero sockets', (s) => (s.cpu.sockets = 0), /^cpu\.sockets: 0 must be a positive integer$/],
    ['negative threads', (s) => (s.cpu.threads = -1), /^cpu\.threads: -1 must be a positive integer$/],
    ['custom mode on kvm without a model', (s) => (s.cpu = { cores: 1, mode: 'custom' }), /^cpu\.model: is required when cpu\.mode is "custom" on kvm$/],
    ['a model with host-passthrough', (s) => (s.cpu.model = 'Nehalem'), /^cpu\.model: only allowed with cpu\.mode "custom"$/],
    ['memory below 16 MiB', (s) => (s.memoryMiB = 15), /^memoryMiB: 15 is below the minimum of 16$/],
    ['fractional memory', (s) => (s.memoryMiB = 512.5), /^memoryMiB: 512\.5 must be an integer$/],
    ['a relative disk path', (s) => (s.disks[0]!.path = 'images/root.qcow2'), /^disks\[0\]\.path: "images\/root\.qcow2" must be an absolute path$/],
    ['a ".." disk path', (s) => (s.disks[1]!.path = '/srv/drover/../../etc/shadow'), /^disks\[1\]\.path: ".*" must not contain "\.\." segments$/],
    ['an empty disk path', (s) => (s.disks[0]!.path = ''), /^disks\[0\]\.path: is required$/],
    ['a newline in a path', (s) => (s.disks[0]!.path = '/srv/a\nb'), /^disks\[0\]\.path: must not contain control characters$/],
    ['a relative kernel path', (s) => (s.boot = { kernel: 'vmlinuz' }), /^boot\.kernel: "vmlinuz" must be an absolute path$/],
    ['a ".." initrd path', (s) => (s.boot = { kernel: '/boot/vmlinuz', initrd: '/boot/../x' }), /^boot\.initrd: .* must not contain "\.\." segments$/],
    ['a boot order used by a disk and a NIC', (s) => (s.interfaces[1]!.bootOrder = 2), /^interfaces\[1\]\.bootOrder: 2 is already used by disks\[0\]$/],
    ['a boot order used by two disks', (s) => (s.disks[1]!.bootOrder = 2), /^disks\[1\]\.bootOrder: 2 is already used by disks\[0\]$/],
    ['a zero boot order', (s) => (s.disks[1]!.bootOrder = 0), /^disks\[1\]\.bootOrder: 0 must be a positive integer$/],
    ['a cdrom on virtio', (s) => (s.disks[0]!.device = 'cdrom'), /^disks\[0\]\.bus: a cdrom needs bus "sata" or "scsi", not "virtio"$/],
    ['a serial longer than 20', (s) => (s.disks[0]!.serial = 'x'.repeat(21)), /^disks\[0\]\.serial: /],
    ['a serial with spaces', (s) => (s.disks[0]!.serial = 'a b'), /^disks\[0\]\.serial: /],
    ['an unknown format', (s) => (s.disks[0]!.format = 'vmdk' as never), /^disks\[0\]\.format: "vmdk" must be one of qcow2, raw$/],
    ['an unknown bus', (s) => (s.disks[0]!.bus = 'ide' as never), /^disks\[0\]\.bus: "ide" must be one of virtio, sata, scsi$/],
    ['an unknown cache', (s) => (s.disks[0]!.cache = 'fast' as never), /^disks\[0\]\.cache: "fast" must be one of/],
    ['a disk name that is no DNS label', (s) => (s.disks[0]!.name = 'Root_Disk'), /^disks\[0\]\.name: "Root_Disk" must be a DNS-1123 label$/],
    ['a NIC name that is no DNS label', (s) => (s.interfaces[0]!.name = 'eth 0'), /^interfaces\[0\]\.name: "eth 0" must be a DNS-1123 label$/],
    ['an unknown NIC model', (s) => (s.interfaces[0]!.model = 'rtl8139' as never), /^interfaces\[0\]\.model: "rtl8139" must be one of virtio, e1000$/],
    ['an upper-case uid', (s) => (s.uid = s.uid.toUpperCase()), /^uid: ".*" must be a lower-case UUID$/],
    ['a uid that is no UUID', (s) => (s.uid = 'not-a-uuid'), /^uid: "not-a-uuid" must be a lower-case UUID$/],
    ['an empty owner namespace', (s) => (s.owner.namespace = ''), /^owner\.namespace: is required$/],
    ['an empty owner name', (s) => (s.owner.name = ''), /^owner\.name: is required$/],
    ['a multi-line title', (s) => (s.title = 'a\nb'), /^title: /],
    ['a negative generation', (s) => (s.generation = -1), /^generation: -1 must be a non-negative integer$/],
    ['an unknown hypervisor', (s) => (s.hypervisor = 'xen' as never), /^hypervisor: "xen" must be one of kvm, qemu$/],
    ['a bad machine type', (s) => (s.machine = 'q35 --evil'), /^machine: "q35 --evil"/],
    ['a bad VNC listen address', (s) => (s.graphics = { type: 'vnc', listen: 'any host' }), /^graphics\.listen: /],
    ['an unknown lock-failure action', (s) => (s.onLockFailure = 'restart' as never), /^onLockFailure: "restart" must be one of poweroff, pause, ignore$/],
  ])('reports %s, naming the field', (_what, change, expected) => {
    const errors = errorsAfter(change);
    expect(errors.some((e) => expected.test(e))).toBe(true);
    // The rest of the spec is valid, so nothing unrelated is reported.
    expect(errors.every((e) => /^[a-zA-Z.[\]0-9]+: /.test(e))).toBe(true);
  });

  it.each(['a', 'vm-1', 'ns_vm.1', 'a'.repeat(128), '0abc9'])('accepts the domain name %s', (name) => {
    expect(errorsAfter((s) => (s.name = name))).toEqual([]);
  });

  it.each([
    ['Demo', /must match/],
    ['a/b', /must match/],
    ['-vm', /must match/],
    ['vm-', /must match/],
    ['', /must match/],
    ['a'.repeat(129), /must match/],
    ['a..b', /must not contain "\.\."/],
  ])('rejects the domain name %j', (name, message) => {
    const errors = errorsAfter((s) => (s.name = name));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^name: /);
    expect(errors[0]).toMatch(message);
  });

  it('accepts custom mode without a model under TCG (qemu64 is used)', () => {
    expect(errorsAfter((s) => (s.cpu = { cores: 1, mode: 'custom' }), tcgMinimal)).toEqual([]);
  });

  it('reports several problems at once', () => {
    const errors = errorsAfter((s) => {
      s.cpu.cores = 0;
      s.memoryMiB = 8;
      s.interfaces[1]!.mac = s.interfaces[0]!.mac;
    });
    expect(errors).toHaveLength(3);
  });
});

describe('buildDomainXml on an invalid spec', () => {
  it('throws InvalidDomainSpecError carrying every error', () => {
    const s = clone(tcgMinimal);
    s.memoryMiB = 1;
    s.disks[0]!.path = 'relative.qcow2';
    let thrown: unknown;
    try {
      buildDomainXml(s);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvalidDomainSpecError);
    expect((thrown as InvalidDomainSpecError).errors).toEqual(validateDomainSpec(s));
    expect((thrown as Error).message).toMatch(/memoryMiB: .*; disks\[0\]\.path: /);
  });
});
