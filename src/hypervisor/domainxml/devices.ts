/**
 * `<devices>`: assembles the per-area device builders and adds the devices
 * every Drover VM has (controllers, RNG, balloon).
 *
 * @packageDocumentation
 */
import { buildSerialConsole } from './console.js';
import { buildDisks } from './disks.js';
import { buildInterfaces } from './interfaces.js';
import { buildLease } from './lease.js';
import type { DomainSpec, GraphicsSpec, XmlElement } from './types.js';

/** Listen address of VNC when the spec does not give one. */
export const DEFAULT_VNC_LISTEN = '127.0.0.1';

/**
 * Controllers Drover declares. libvirt adds the implicit ones itself (the
 * q35 `pcie-root`, the built-in SATA controller, PCIe root ports), so only
 * the choices that differ from libvirt's defaults are written:
 * - USB `model='none'`: no Drover device uses USB, and libvirt would
 *   otherwise add a USB controller that costs a PCI slot and attack surface.
 * - one `virtio-scsi` controller when a disk is on the `scsi` bus: without
 *   it libvirt would pick the emulated LSI controller, which is slow and
 *   absent from many guest kernels.
 */
export function buildControllers(spec: Pick<DomainSpec, 'disks'>): XmlElement[] {
  const controllers: XmlElement[] = [{ '@_type': 'usb', '@_index': 0, '@_model': 'none' }];
  if (spec.disks.some((d) => d.bus === 'scsi')) {
    controllers.push({ '@_type': 'scsi', '@_index': 0, '@_model': 'virtio-scsi' });
  }
  return controllers;
}

/** `<graphics>` for VNC, with a port chosen by libvirt (a fixed port would clash between VMs). */
export function buildGraphics(graphics: GraphicsSpec): XmlElement {
  const listen = graphics.listen ?? DEFAULT_VNC_LISTEN;
  return {
    '@_type': 'vnc',
    '@_port': -1,
    '@_autoport': 'yes',
    '@_listen': listen,
    listen: { '@_type': 'address', '@_address': listen },
  };
}

/**
 * `<devices>`, in the order libvirt itself writes them. No `<emulator>`:
 * libvirt picks the QEMU binary from the host's capabilities, so the same
 * XML works on hosts that install QEMU in different places.
 */
export function buildDevices(spec: DomainSpec): XmlElement {
  const devices: XmlElement = {};
  if (spec.disks.length > 0) devices.disk = buildDisks(spec.disks);
  devices.controller = buildControllers(spec);
  if (spec.lease !== undefined) devices.lease = buildLease(spec.lease);
  if (spec.interfaces.length > 0) devices.interface = buildInterfaces(spec.interfaces);
  const { serial, console } = buildSerialConsole();
  devices.serial = serial;
  devices.console = console;
  if (spec.graphics !== undefined) {
    devices.graphics = buildGraphics(spec.graphics);
    // Standard VGA: every guest and firmware drives it, including BIOS text mode.
    devices.video = { model: { '@_type': 'vga' } };
  }
  // virtio balloon: lets the host reclaim memory from a cooperating guest.
  devices.memballoon = { '@_model': 'virtio' };
  // /dev/urandom: never blocks the guest at boot, and is what libvirt
  // recommends as the host entropy source.
  devices.rng = { '@_model': 'virtio', backend: { '@_model': 'random', '#text': '/dev/urandom' } };
  return devices;
}
