/** Disks pause the VM on I/O errors (so HA can act on a VM whose storage failed); a cdrom reports them. */
import { buildDisk } from '../../../src/hypervisor/domainxml/disks.js';

describe('disk error policy', () => {
  it('is stop for disks, read-only ones included', () => {
    const disk = buildDisk({ name: 'root', path: '/srv/a.qcow2', format: 'qcow2', bus: 'virtio' }, 'vda');
    expect(disk['driver']).toMatchObject({ '@_error_policy': 'stop' });
    const ro = buildDisk({ name: 'ro', path: '/srv/b.raw', format: 'raw', bus: 'virtio', readOnly: true }, 'vdb');
    expect(ro['driver']).toMatchObject({ '@_error_policy': 'stop' });
  });

  it("is libvirt's default (report) for a cdrom", () => {
    const cd = buildDisk({ name: 'iso', path: '/srv/i.iso', format: 'raw', bus: 'sata', device: 'cdrom' }, 'sda');
    expect(cd['driver']).not.toHaveProperty('@_error_policy');
  });
});
