/** Valid inputs shared by the agent tests. */
import type { VmSpecInput } from '../../../../src/api/agent/index.js';
import type { FakeStorage } from './fakes.js';

/** A VM's Kubernetes UID. */
export const UID = '6f1c3a52-9d4e-4b7a-8c2d-1e5f0a9b3c7d';
/** Another VM. */
export const UID2 = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
/** A foreign (non-Drover) domain. */
export const FOREIGN_UID = 'deadbeef-0000-4000-8000-000000000001';

/** 1 GiB. */
export const GIB = 1024 ** 3;

/** Seeds the storage domain `data` with boot files and two volumes. */
export function seedStorage(storage: FakeStorage): void {
  storage.seed('data', {
    files: ['boot/vmlinuz', 'boot/initrd.img'],
    volumes: [
      { name: 'root', sizeBytes: 10 * GIB },
      { name: 'scratch', sizeBytes: GIB, format: 'raw' },
    ],
  });
}

/** A valid agent-level VM spec over the seeded storage. */
export function vmSpec(overrides: Partial<VmSpecInput> = {}): VmSpecInput {
  return {
    name: 'default-web-1',
    owner: { namespace: 'default', name: 'web-1' },
    generation: 1,
    cpu: { cores: 2 },
    memoryMiB: 512,
    acceleration: 'auto',
    boot: { domain: 'data', kernel: 'boot/vmlinuz', initrd: 'boot/initrd.img', cmdline: 'console=ttyS0' },
    disks: [
      { name: 'root', domain: 'data', volume: 'root', bus: 'virtio', bootOrder: 1 },
      { name: 'scratch', domain: 'data', volume: 'scratch', bus: 'sata' },
    ],
    nics: [{ name: 'eth0', bridge: 'br0', mac: '52:54:00:12:34:56', model: 'virtio' }],
    ...overrides,
  };
}
