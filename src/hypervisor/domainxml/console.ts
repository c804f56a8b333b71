/**
 * Serial port and console: always present, so `virsh console` (and the
 * agent's console verb) works for every Drover VM, graphics or not.
 *
 * @packageDocumentation
 */
import type { XmlElement } from './types.js';

/** The serial-console device elements, keyed by element name. */
export interface SerialConsoleElements {
  serial: XmlElement;
  console: XmlElement;
}

/**
 * A pty-backed 16550 UART (`ttyS0` in the guest, so kernels boot with
 * `console=ttyS0`) and the `<console>` that points at it. A pty needs no
 * path on the host, so nothing has to be created or cleaned up, and it
 * migrates (the destination gets its own pty).
 */
export function buildSerialConsole(): SerialConsoleElements {
  return {
    serial: {
      '@_type': 'pty',
      target: { '@_type': 'isa-serial', '@_port': 0, model: { '@_name': 'isa-serial' } },
    },
    console: {
      '@_type': 'pty',
      target: { '@_type': 'serial', '@_port': 0 },
    },
  };
}
