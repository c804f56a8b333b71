import { describe, expect, it } from '@jest/globals';
import { schedule, type HostView, type SchedulingPolicy, type VMRequest } from '../../../src/scheduler/scheduler.js';

const GiB = 1024 ** 3;

const even: SchedulingPolicy = { policy: 'EvenlyDistributed', cpuOvercommitPercent: 100, memoryOvercommitPercent: 100 };
const packing: SchedulingPolicy = { ...even, policy: 'PowerSaving' };

function host(name: string, extra: Partial<HostView> = {}): HostView {
  return {
    name,
    labels: {},
    phase: 'Up',
    maintenance: false,
    memoryBytes: 16 * GiB,
    cpuThreads: 8,
    committedMemoryBytes: 0,
    committedVcpus: 0,
    storageDomains: new Set(['data']),
    ...extra,
  };
}

function vm(extra: Partial<VMRequest> = {}): VMRequest {
  return { memoryBytes: 2 * GiB, vcpus: 2, storageDomains: ['data'], hostSelector: undefined, ...extra };
}

function rejectedReason(result: ReturnType<typeof schedule>, hostName: string): string | undefined {
  if (result.ok) throw new Error(`expected no placement, got ${result.host}`);
  return result.rejected[hostName];
}

describe('schedule: filters', () => {
  it('says there are no hosts when the namespace has none', () => {
    const result = schedule(vm(), [], even);
    expect(result).toEqual({ ok: false, message: 'no hosts in this namespace', rejected: {} });
  });

  it('rejects hosts that are not Up, naming the phase or that it does not report yet', () => {
    const result = schedule(vm(), [host('a', { phase: 'Connecting' }), host('b', { phase: undefined })], even);
    expect(rejectedReason(result, 'a')).toBe('host is Connecting');
    expect(rejectedReason(result, 'b')).toBe('host is not yet reporting');
  });

  it('places a VM asking for a named CPU model only on hosts listing it; hosts that do not say are left to the start', () => {
    const result = schedule(vm({ cpuModel: 'Nehalem' }), [host('a', { cpuModels: new Set(['kvm64', 'qemu64']) }), host('b', { cpuModels: new Set(['Nehalem']) })], even);
    expect(result).toEqual({ ok: true, host: 'b' });
    const none = schedule(vm({ cpuModel: 'EPYC' }), [host('a', { cpuModels: new Set(['kvm64']) })], even);
    expect(rejectedReason(none, 'a')).toBe('host CPU cannot give model EPYC');
    expect(schedule(vm({ cpuModel: 'EPYC' }), [host('a')], even)).toEqual({ ok: true, host: 'a' });
    // Without a named model the list does not matter.
    expect(schedule(vm(), [host('a', { cpuModels: new Set() })], even)).toEqual({ ok: true, host: 'a' });
    // A KVM host lists KVM's models; a TCG VM there emulates its CPU, so the list says nothing about it.
    const kvmHost = host('k', { hypervisorType: 'kvm', cpuModels: new Set(['kvm64']) });
    expect(schedule(vm({ cpuModel: 'Nehalem', tcgOnly: true }), [kvmHost], even)).toEqual({ ok: true, host: 'k' });
    expect(rejectedReason(schedule(vm({ cpuModel: 'Nehalem' }), [kvmHost], even), 'k')).toBe('host CPU cannot give model Nehalem');
  });

  it('places a VM that requires KVM only on KVM hosts', () => {
    const result = schedule(vm({ requiresKvm: true }), [host('a', { hypervisorType: 'qemu' }), host('b', { hypervisorType: 'kvm' })], even);
    expect(result).toEqual({ ok: true, host: 'b' });
    expect(rejectedReason(schedule(vm({ requiresKvm: true }), [host('a', { hypervisorType: 'qemu' })], even), 'a')).toBe('host has no usable KVM (acceleration: KVM)');
    expect(schedule(vm(), [host('a', { hypervisorType: 'qemu' })], even)).toEqual({ ok: true, host: 'a' });
  });

  it('rejects hosts in maintenance', () => {
    expect(rejectedReason(schedule(vm(), [host('a', { maintenance: true })], even), 'a')).toBe('host is in maintenance');
  });

  it('rejects hosts that do not match the VM host selector', () => {
    const selector = { matchLabels: { zone: 'a' } };
    const result = schedule(vm({ hostSelector: selector }), [host('a', { labels: { zone: 'b' } }), host('b', { labels: { zone: 'a' } })], even);
    expect(result).toEqual({ ok: true, host: 'b' });
    expect(rejectedReason(schedule(vm({ hostSelector: selector }), [host('a')], even), 'a')).toBe('host does not match placement.hostSelector');
  });

  it('rejects hosts missing any storage domain the VM uses, naming the missing ones', () => {
    const result = schedule(vm({ storageDomains: ['data', 'iso', 'extra'] }), [host('a', { storageDomains: new Set(['data']) })], even);
    expect(rejectedReason(result, 'a')).toBe('host is not connected to storage domain iso, extra');
    expect(schedule(vm({ storageDomains: [] }), [host('a', { storageDomains: new Set() })], even)).toEqual({ ok: true, host: 'a' });
  });

  it('rejects hosts whose memory or CPU count is unknown', () => {
    expect(rejectedReason(schedule(vm(), [host('a', { memoryBytes: undefined })], even), 'a')).toBe('host memory unknown');
    expect(rejectedReason(schedule(vm(), [host('a', { cpuThreads: undefined })], even), 'a')).toBe('host CPU count unknown');
  });

  it('checks memory against capacity times the overcommit percent, the VM fitting exactly', () => {
    const h = host('a', { memoryBytes: 8 * GiB, committedMemoryBytes: 6 * GiB });
    expect(schedule(vm({ memoryBytes: 2 * GiB }), [h], even)).toEqual({ ok: true, host: 'a' });
    expect(rejectedReason(schedule(vm({ memoryBytes: 2 * GiB + 1 }), [h], even), 'a')).toBe('not enough free memory');
    expect(schedule(vm({ memoryBytes: 6 * GiB }), [h], { ...even, memoryOvercommitPercent: 150 })).toEqual({ ok: true, host: 'a' });
  });

  it('checks vCPUs against threads times the CPU overcommit percent', () => {
    const h = host('a', { cpuThreads: 4, committedVcpus: 3 });
    expect(schedule(vm({ vcpus: 1 }), [h], even)).toEqual({ ok: true, host: 'a' });
    expect(rejectedReason(schedule(vm({ vcpus: 2 }), [h], even), 'a')).toBe('not enough CPU');
    expect(schedule(vm({ vcpus: 13 }), [h], { ...even, cpuOvercommitPercent: 400 })).toEqual({ ok: true, host: 'a' });
    expect(rejectedReason(schedule(vm({ vcpus: 14 }), [h], { ...even, cpuOvercommitPercent: 400 }), 'a')).toBe('not enough CPU');
  });

  it('reports the first failing filter per host, hosts sorted by name in the message', () => {
    const result = schedule(
      vm(),
      [
        host('zeta', { phase: 'Maintenance', maintenance: true }),
        host('alpha', { memoryBytes: GiB }),
        host('mid', { maintenance: true, storageDomains: new Set() }),
      ],
      even,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejected).toEqual({
      zeta: 'host is Maintenance',
      alpha: 'not enough free memory',
      mid: 'host is in maintenance',
    });
    expect(result.message).toBe(
      'no host can run the VM (alpha: not enough free memory; mid: host is in maintenance; zeta: host is Maintenance)',
    );
  });
});

describe('schedule: weighting', () => {
  const big = host('big', { memoryBytes: 32 * GiB });
  const small = host('small', { memoryBytes: 8 * GiB });

  it('EvenlyDistributed picks the host with the most free memory after placement', () => {
    expect(schedule(vm(), [small, big], even)).toEqual({ ok: true, host: 'big' });
    // the emptier of two equal hosts
    const busy = host('a', { committedMemoryBytes: 10 * GiB });
    const idle = host('b', { committedMemoryBytes: 2 * GiB });
    expect(schedule(vm(), [busy, idle], even)).toEqual({ ok: true, host: 'b' });
  });

  it('PowerSaving picks the fullest host that still fits', () => {
    expect(schedule(vm(), [big, small], packing)).toEqual({ ok: true, host: 'small' });
    const busy = host('a', { committedMemoryBytes: 10 * GiB });
    const idle = host('b', { committedMemoryBytes: 2 * GiB });
    expect(schedule(vm(), [idle, busy], packing)).toEqual({ ok: true, host: 'a' });
    // a host too full to fit is filtered out, not packed onto
    const full = host('c', { committedMemoryBytes: 15 * GiB });
    expect(schedule(vm(), [idle, full], packing)).toEqual({ ok: true, host: 'b' });
  });

  it('weighs the free fraction, so overcommit counts in capacity', () => {
    // a: 16 GiB at 200 % = 32 GiB capacity, 20 used; b: 16 GiB, 4 used -> both Up
    const policy = { ...even, memoryOvercommitPercent: 200 };
    const a = host('a', { committedMemoryBytes: 20 * GiB });
    const b = host('b', { committedMemoryBytes: 4 * GiB });
    // free after: a (32-20-2)/32 = 0.3125, b (32-4-2)/32 = 0.8125
    expect(schedule(vm(), [a, b], policy)).toEqual({ ok: true, host: 'b' });
    expect(schedule(vm(), [a, b], { ...policy, policy: 'PowerSaving' })).toEqual({ ok: true, host: 'a' });
  });

  it('breaks ties by host name whatever the input order and policy', () => {
    const hosts = [host('c'), host('a'), host('b')];
    expect(schedule(vm(), hosts, even)).toEqual({ ok: true, host: 'a' });
    expect(schedule(vm(), [...hosts].reverse(), even)).toEqual({ ok: true, host: 'a' });
    expect(schedule(vm(), hosts, packing)).toEqual({ ok: true, host: 'a' });
  });

  it('does not mutate the host list', () => {
    const hosts = [small, big];
    schedule(vm(), hosts, even);
    expect(hosts.map((h) => h.name)).toEqual(['small', 'big']);
  });
});
