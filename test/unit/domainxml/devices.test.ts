/** Per-area builders: target assignment, CPU resolution, device assembly. */
import { buildCpu, effectiveCpu, TCG_CPU_MODEL, vcpuCount } from '../../../src/hypervisor/domainxml/cpu.js';
import { buildControllers, buildDevices } from '../../../src/hypervisor/domainxml/devices.js';
import { assignDiskTargets, diskTargetName } from '../../../src/hypervisor/domainxml/disks.js';
import { buildDomainXml } from '../../../src/hypervisor/domainxml/domain.js';
import { buildClock } from '../../../src/hypervisor/domainxml/features.js';
import { clone, kvmTwoDisksTwoNics, tcgMinimal } from './specs.js';

describe('disk targets', () => {
  it.each([
    [0, 'vda'],
    [25, 'vdz'],
    [26, 'vdaa'],
    [51, 'vdaz'],
    [701, 'vdzz'],
    [702, 'vdaaa'],
  ])('index %d is %s', (index, name) => {
    expect(diskTargetName('vd', index)).toBe(name);
  });

  it('counts virtio apart from sata/scsi, which share sd*', () => {
    expect(
      assignDiskTargets([{ bus: 'virtio' }, { bus: 'sata' }, { bus: 'scsi' }, { bus: 'virtio' }, { bus: 'sata' }]),
    ).toEqual(['vda', 'sda', 'sdb', 'vdb', 'sdc']);
  });

  it('keeps pinned targets and skips them when assigning the others', () => {
    expect(assignDiskTargets([{ bus: 'virtio' }, { bus: 'virtio', target: 'vda' }, { bus: 'virtio' }])).toEqual([
      'vdb',
      'vda',
      'vdc',
    ]);
  });

  it('assigns 30 virtio disks distinct names past vdz', () => {
    const targets = assignDiskTargets(Array.from({ length: 30 }, () => ({ bus: 'virtio' as const })));
    expect(new Set(targets).size).toBe(30);
    expect(targets[26]).toBe('vdaa');
  });
});

describe('CPU', () => {
  it.each([
    ['host-passthrough', undefined, { mode: 'custom', model: TCG_CPU_MODEL }],
    ['host-model', undefined, { mode: 'custom', model: TCG_CPU_MODEL }],
    ['custom', undefined, { mode: 'custom', model: TCG_CPU_MODEL }],
    ['custom', 'Nehalem', { mode: 'custom', model: 'Nehalem' }],
  ] as const)('under TCG resolves %s/%s', (mode, model, expected) => {
    expect(effectiveCpu({ hypervisor: 'qemu', cpu: { cores: 1, mode, model } })).toEqual(expected);
  });

  it('under KVM keeps the requested mode', () => {
    expect(effectiveCpu({ hypervisor: 'kvm', cpu: { cores: 1, mode: 'host-passthrough' } })).toEqual({ mode: 'host-passthrough' });
    expect(effectiveCpu({ hypervisor: 'kvm', cpu: { cores: 1, mode: 'host-model' } })).toEqual({ mode: 'host-model' });
  });

  it('never writes host-passthrough for a TCG domain', () => {
    const xml = buildDomainXml(tcgMinimal);
    expect(tcgMinimal.cpu.mode).toBe('host-passthrough');
    expect(xml).not.toContain('host-passthrough');
    expect(xml).toContain('<model fallback="forbid">qemu64</model>');
  });

  it('writes a topology whose product is the vcpu count', () => {
    const cpu = { sockets: 2, cores: 3, threads: 2, mode: 'host-model' as const };
    expect(vcpuCount(cpu)).toBe(12);
    expect(buildCpu({ hypervisor: 'kvm', cpu }).topology).toEqual({ '@_sockets': 2, '@_dies': 1, '@_cores': 3, '@_threads': 2 });
    const s = clone(kvmTwoDisksTwoNics);
    s.cpu = cpu;
    expect(buildDomainXml(s)).toContain('<vcpu placement="static">12</vcpu>');
  });
});

describe('devices and features', () => {
  it('adds a virtio-scsi controller only when a disk is on scsi', () => {
    expect(buildControllers(tcgMinimal)).toEqual([{ '@_type': 'usb', '@_index': 0, '@_model': 'none' }]);
    expect(buildControllers(kvmTwoDisksTwoNics)).toContainEqual({ '@_type': 'scsi', '@_index': 0, '@_model': 'virtio-scsi' });
  });

  it('always has serial + console, virtio balloon and rng; no graphics unless asked', () => {
    const d = buildDevices(tcgMinimal);
    expect(d.serial).toMatchObject({ '@_type': 'pty' });
    expect(d.console).toMatchObject({ '@_type': 'pty', target: { '@_type': 'serial', '@_port': 0 } });
    expect(d.memballoon).toEqual({ '@_model': 'virtio' });
    expect(d.rng).toEqual({ '@_model': 'virtio', backend: { '@_model': 'random', '#text': '/dev/urandom' } });
    expect(d.graphics).toBeUndefined();
    expect(d.video).toBeUndefined();
  });

  it('omits <disk>/<interface> for a VM without them', () => {
    const s = clone(tcgMinimal);
    s.disks = [];
    s.interfaces = [];
    const xml = buildDomainXml(s);
    expect(xml).not.toContain('<disk');
    expect(xml).not.toContain('<interface');
    expect(xml).toContain('<console type="pty">');
  });

  it('writes KVM-only timers only for kvm', () => {
    expect(buildClock('qemu')).toEqual({ '@_offset': 'utc' });
    expect(JSON.stringify(buildClock('kvm'))).toContain('"pit"');
  });

  it('writes ACPI, UTC clock and the fixed lifecycle actions', () => {
    const xml = buildDomainXml(tcgMinimal);
    expect(xml).toContain('<acpi/>');
    expect(xml).toContain('<clock offset="utc"/>');
    expect(xml).toContain('<on_poweroff>destroy</on_poweroff>');
    expect(xml).toContain('<on_reboot>restart</on_reboot>');
    expect(xml).toContain('<on_crash>destroy</on_crash>');
    expect(xml).not.toContain('on_lockfailure');
  });
});
