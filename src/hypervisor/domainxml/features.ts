/**
 * `<features>`, `<clock>`, lifecycle actions and `<pm>`.
 *
 * @packageDocumentation
 */
import type { DomainSpec, HypervisorType, XmlElement } from './types.js';

/**
 * `<features>`: ACPI is what lets `virsh shutdown` (an ACPI power-button
 * event) stop the guest gracefully; the APIC is needed by every SMP x86
 * guest and by q35.
 */
export function buildFeatures(): XmlElement {
  return { acpi: '', apic: '' };
}

/**
 * `<clock offset='utc'>`. Under KVM the guest gets the usual timer policy
 * (RTC catch-up, PIT delay, no HPET), which keeps guest time sane after the
 * vCPUs were descheduled, e.g. across a migration pause. Under TCG these are
 * left out: the PIT policy is a property of KVM's in-kernel PIT (`kvm-pit`),
 * which does not exist without KVM.
 */
export function buildClock(hypervisor: HypervisorType): XmlElement {
  if (hypervisor === 'qemu') return { '@_offset': 'utc' };
  return {
    '@_offset': 'utc',
    timer: [
      { '@_name': 'rtc', '@_tickpolicy': 'catchup' },
      { '@_name': 'pit', '@_tickpolicy': 'delay' },
      { '@_name': 'hpet', '@_present': 'no' },
    ],
  };
}

/** Lifecycle elements, keyed by element name, in libvirt's document order. */
export interface LifecycleElements {
  on_poweroff: string;
  on_reboot: string;
  on_crash: string;
  on_lockfailure?: string;
}

/**
 * Lifecycle actions. These are fixed on purpose:
 * - `on_poweroff=destroy` / `on_crash=destroy`: libvirt never restarts a
 *   guest by itself; the operator's run strategy decides whether and where
 *   it runs again (only it can prove the VM is not running elsewhere).
 * - `on_reboot=restart`: a guest-initiated reboot stays inside the same QEMU
 *   process, so it keeps its disk locks and leases and is not seen as a stop.
 * - `on_lockfailure` only when asked: `poweroff` stops an instance that lost
 *   its storage lease before it can write next to a new owner.
 */
export function buildLifecycle(spec: Pick<DomainSpec, 'onLockFailure'>): LifecycleElements {
  const out: LifecycleElements = { on_poweroff: 'destroy', on_reboot: 'restart', on_crash: 'destroy' };
  if (spec.onLockFailure !== undefined) out.on_lockfailure = spec.onLockFailure;
  return out;
}

/**
 * `<pm>`: guest-initiated suspend-to-RAM/disk is disabled. A guest that
 * suspends itself looks neither running nor stopped to the control plane,
 * and a suspended-to-RAM guest cannot be live-migrated.
 */
export function buildPm(): XmlElement {
  return { 'suspend-to-mem': { '@_enabled': 'no' }, 'suspend-to-disk': { '@_enabled': 'no' } };
}
