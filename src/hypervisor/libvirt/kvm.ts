/**
 * Whether KVM domains can actually run on this host: libvirt must offer the
 * `kvm` domain type AND /dev/kvm must be openable. Either alone is not
 * enough: libvirt may list KVM while the device is missing from a container
 * or not writable for us, and the device may exist on a host whose QEMU
 * lacks KVM support.
 *
 * @packageDocumentation
 */
import { open } from 'node:fs/promises';
import { DriverError } from '../driver.js';
import { domcapsSaysKvm } from './parse-host.js';
import type { Virsh } from './virsh.js';

/** Result of {@link probeKvm}: usable or not, and why not. */
export interface KvmProbe {
  usable: boolean;
  /** Why KVM is not usable (for logs and errors). */
  reason?: string;
}

/** The KVM device node. */
export const KVM_DEVICE = '/dev/kvm';

/** Opens the KVM device read-write (what QEMU does) and closes it again. */
export async function kvmDeviceOpenable(device = KVM_DEVICE): Promise<KvmProbe> {
  try {
    const fh = await open(device, 'r+');
    await fh.close();
    return { usable: true };
  } catch (err) {
    return { usable: false, reason: `${device} cannot be opened: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
}

/**
 * Probes KVM through libvirt (`virsh domcapabilities --virttype kvm`) and
 * the local device. The device check is local: the driver runs on the host
 * whose libvirtd it talks to.
 */
export async function probeKvm(virsh: Virsh, device = KVM_DEVICE): Promise<KvmProbe> {
  const dev = await kvmDeviceOpenable(device);
  if (!dev.usable) return dev;
  try {
    const doc = await virsh.run(['domcapabilities', '--virttype', 'kvm']);
    if (!domcapsSaysKvm(doc)) return { usable: false, reason: 'libvirt domain capabilities do not describe a kvm domain' };
    return { usable: true };
  } catch (err) {
    if (err instanceof DriverError && err.kind === 'Unavailable') throw err;
    return { usable: false, reason: `libvirt offers no kvm domain type: ${(err as Error).message}` };
  }
}
