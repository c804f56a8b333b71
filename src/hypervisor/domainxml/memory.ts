/**
 * `<memory>` and `<currentMemory>`.
 *
 * @packageDocumentation
 */
import type { XmlElement } from './types.js';

/** The memory elements of a domain, keyed by element name. */
export interface MemoryElements {
  memory: XmlElement;
  currentMemory: XmlElement;
}

/**
 * Memory in KiB, the unit libvirt itself writes on `virsh dumpxml`, so a
 * defined domain and its dump differ as little as possible. `currentMemory`
 * equals `memory`: the balloon starts fully inflated-out and Drover does not
 * overcommit by ballooning at boot.
 */
export function buildMemory(memoryMiB: number): MemoryElements {
  const kib = memoryMiB * 1024;
  return {
    memory: { '@_unit': 'KiB', '#text': kib },
    currentMemory: { '@_unit': 'KiB', '#text': kib },
  };
}
