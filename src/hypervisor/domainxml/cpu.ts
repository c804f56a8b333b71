/**
 * `<vcpu>` and `<cpu>`: vCPU count, CPU mode/model and topology.
 *
 * @packageDocumentation
 */
import type { CpuMode, CpuSpec, DomainSpec, XmlElement } from './types.js';

/**
 * CPU model used under TCG (`hypervisor: 'qemu'`) unless the spec names a
 * custom model.
 *
 * Why `qemu64` in `custom` mode, and not the alternatives, for libvirt 9.0 +
 * QEMU 7.2:
 * - `host-passthrough` means "the physical CPU as KVM exposes it"; libvirt
 *   refuses it for `<domain type='qemu'>` (not supported by the hypervisor).
 * - `host-model` is accepted under TCG but is derived from what the local
 *   QEMU build can emulate, so it changes with the QEMU version and breaks
 *   migration between hosts that differ in QEMU.
 * - QEMU's `-cpu max` is not a libvirt *custom* model at all (it is absent
 *   from libvirt's cpu_map, so `custom` + `max` fails); it is only reachable
 *   through `mode='maximum'`, which has the same version-drift problem as
 *   `host-model`.
 * - `qemu64` is in libvirt's cpu_map, is what QEMU itself uses by default
 *   for x86_64 under TCG (libvirt expands a TCG domain without `<cpu>` to
 *   exactly `custom`/`qemu64`), is fully emulated by TCG, and is stable
 *   across versions, so TCG domains migrate. Its cost: only the x86-64
 *   baseline ISA (no SSE4.2/AVX). Guests that need x86-64-v2 (RHEL 9 family)
 *   must ask for a `custom` model such as `Nehalem`, which is honoured.
 */
export const TCG_CPU_MODEL = 'qemu64';

/** The CPU mode and model that will actually be written for a spec. */
export interface EffectiveCpu {
  mode: CpuMode;
  model?: string;
}

/**
 * Resolves the requested CPU against the domain type. Under KVM the request
 * is used as is. Under TCG the host-derived modes become `custom`
 * {@link TCG_CPU_MODEL}, and `custom` without a model gets that model too.
 */
export function effectiveCpu(spec: Pick<DomainSpec, 'hypervisor' | 'cpu'>): EffectiveCpu {
  const { mode, model } = spec.cpu;
  if (spec.hypervisor === 'kvm') {
    return model !== undefined && mode === 'custom' ? { mode, model } : { mode };
  }
  if (mode === 'custom' && model !== undefined) return { mode, model };
  return { mode: 'custom', model: TCG_CPU_MODEL };
}

/** Total vCPUs: `sockets * cores * threads` (sockets and threads default to 1). */
export function vcpuCount(cpu: CpuSpec): number {
  return (cpu.sockets ?? 1) * cpu.cores * (cpu.threads ?? 1);
}

/**
 * `<vcpu>`. Placement is `static` (no automatic NUMA placement): the
 * scheduler of the host OS places the threads, and no numad is required.
 */
export function buildVcpu(cpu: CpuSpec): XmlElement {
  return { '@_placement': 'static', '#text': vcpuCount(cpu) };
}

/** `<cpu>` with mode, model and an explicit topology matching `<vcpu>`. */
export function buildCpu(spec: Pick<DomainSpec, 'hypervisor' | 'cpu'>): XmlElement {
  const eff = effectiveCpu(spec);
  const topology: XmlElement = {
    '@_sockets': spec.cpu.sockets ?? 1,
    '@_dies': 1,
    '@_cores': spec.cpu.cores,
    '@_threads': spec.cpu.threads ?? 1,
  };
  switch (eff.mode) {
    case 'host-passthrough':
      // check='none': there is nothing to compare a passthrough CPU with.
      // migratable='on' hides host features QEMU cannot migrate (e.g. invtsc),
      // so live migration between identical hosts keeps working.
      return { '@_mode': 'host-passthrough', '@_check': 'none', '@_migratable': 'on', topology };
    case 'host-model':
      return { '@_mode': 'host-model', '@_check': 'partial', topology };
    case 'custom':
      // fallback='forbid': fail to start rather than silently run a different
      // model than the one the VM was defined with (migration would then break).
      return {
        '@_mode': 'custom',
        '@_match': 'exact',
        '@_check': 'partial',
        model: { '@_fallback': 'forbid', '#text': eff.model ?? TCG_CPU_MODEL },
        topology,
      };
  }
}
