/**
 * The VirtualMachine manifest of the tiny test guest (as examples/quickstart's
 * `hello`): direct kernel boot from the shared storage domain `shared`, a
 * small data disk, one NIC on `br0`, a static address on the test bed's
 * management subnet. Used by the end-to-end tests and the host benchmarks.
 */
import { GUEST_CMDLINE_BASE } from './guest-image/index.js';
import { GUEST_INITRD_PATH, GUEST_KERNEL_PATH } from './hosts.js';

const API = 'drover.io/v1alpha1';

/** A VirtualMachine booting the tiny guest at `ip` (spec fields in `spec` override the defaults). */
export function guestVmManifest(namespace: string, name: string, ip: string, prefixLength: number, gateway: string, spec: Record<string, unknown> = {}): object {
  return {
    apiVersion: API,
    kind: 'VirtualMachine',
    metadata: { name, namespace },
    spec: {
      runStrategy: 'Always',
      cpu: { cores: 1 },
      memory: '128Mi',
      boot: {
        storageDomain: 'shared',
        kernel: GUEST_KERNEL_PATH,
        initrd: GUEST_INITRD_PATH,
        cmdline: `${GUEST_CMDLINE_BASE} drover.ip=${ip}/${prefixLength} drover.gw=${gateway} drover.name=${name}`,
      },
      disks: [{ name: 'data', storageDomain: 'shared', size: '64Mi' }],
      networks: [{ name: 'mgmt', bridge: 'br0' }],
      diskDeletionPolicy: 'Delete',
      ...spec,
    },
  };
}
