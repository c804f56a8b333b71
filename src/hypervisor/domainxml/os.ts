/**
 * `<os>`: machine type and direct kernel boot, plus the per-device
 * `<boot order>` element used by disks and interfaces.
 *
 * @packageDocumentation
 */
import { DEFAULT_MACHINE, type DomainSpec, type XmlElement } from './types.js';

/**
 * Guest architecture. Drover's machine types (`q35`) and TCG CPU model
 * (`qemu64`) are x86 concepts; naming the arch makes libvirt pick the x86_64
 * emulator explicitly instead of inferring it from the host.
 */
export const GUEST_ARCH = 'x86_64';

/**
 * `<os>`. Boot order is never written here as `<boot dev=…>`: libvirt
 * forbids mixing it with per-device `<boot order>`, and per-device order is
 * the only form that can name a specific disk or NIC.
 */
export function buildOs(spec: Pick<DomainSpec, 'machine' | 'boot'>): XmlElement {
  const os: XmlElement = {
    type: { '@_arch': GUEST_ARCH, '@_machine': spec.machine ?? DEFAULT_MACHINE, '#text': 'hvm' },
  };
  if (spec.boot !== undefined) {
    os.kernel = spec.boot.kernel;
    if (spec.boot.initrd !== undefined) os.initrd = spec.boot.initrd;
    if (spec.boot.cmdline !== undefined) os.cmdline = spec.boot.cmdline;
  }
  return os;
}

/** `<boot order='N'/>` for a device, or `undefined` when the device is not bootable. */
export function buildBootOrder(order: number | undefined): XmlElement | undefined {
  return order === undefined ? undefined : { '@_order': order };
}
