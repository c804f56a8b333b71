/**
 * The hypervisor driver `drover agent` runs on: libvirt, or (hidden,
 * benchmark-only) the simulated one. Either way it sits behind the same
 * list cache, so the agent's own code path does not depend on the choice.
 *
 * @packageDocumentation
 */
import { CachedListDriver } from '../hypervisor/cached-list.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import { LibvirtDriver } from '../hypervisor/libvirt/index.js';
import { SimulatedDriver, SimulatedFabric } from '../hypervisor/simulated/index.js';

/** The flags the choice reads. */
export interface AgentDriverFlags {
  /** `libvirt` (default) or `simulated` (scale benchmarks only). */
  hypervisor: string;
  'libvirt-uri': string;
  acceleration: string;
  /** Latency scale of the simulated hypervisor, as text (e.g. "1", "0.1"). */
  'sim-latency-scale': string;
}

/**
 * Builds the agent's driver from its flags.
 * @returns the driver, or a usage error message for wrong flags.
 */
export function buildAgentDriver(flags: AgentDriverFlags): { driver: HypervisorDriver; simulated: boolean } | { error: string } {
  const acceleration = flags.acceleration;
  if (acceleration !== 'auto' && acceleration !== 'kvm' && acceleration !== 'tcg') return { error: '--acceleration must be auto, kvm or tcg' };
  if (flags.hypervisor === 'libvirt') {
    return { driver: new CachedListDriver(new LibvirtDriver({ uri: flags['libvirt-uri'], acceleration })), simulated: false };
  }
  if (flags.hypervisor === 'simulated') {
    const scale = Number(flags['sim-latency-scale']);
    if (flags['sim-latency-scale'].trim() === '' || !Number.isFinite(scale) || scale < 0) return { error: '--sim-latency-scale must be a number ≥ 0' };
    // A fabric of its own: a lone simulated agent has no peers to migrate to
    // (a fleet in one process shares one, see src/agent/simulated-fleet).
    const driver = new SimulatedDriver({ uri: flags['libvirt-uri'], fabric: new SimulatedFabric(), latencyScale: scale });
    return { driver: new CachedListDriver(driver), simulated: true };
  }
  return { error: '--hypervisor must be libvirt' };
}
