import { afterEach, describe, expect, it } from '@jest/globals';
import { registerDomainMetrics } from '../../../src/operator/domain-metrics.js';
import { Resources } from '../../../src/operator/resources.js';
import { Registry } from '../../../src/runtime/metrics.js';
import { domainObj, hostObj, managerObj, migrationObj, startEnv, upHostStatus, vmObj, waitFor, type TestEnv } from '../support/operator-context.js';
import { families, sample } from './metrics-text.js';

const NS = 'prod';
const GiB = 1024 ** 3;
let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

const cond = (type: string, status: string, reason = 'Test') => ({ type, status, reason, message: '', lastTransitionTime: '2025-03-01T12:00:00Z' });

/** An environment with a bit of everything, as the reconcilers leave it. */
async function populate(): Promise<void> {
  const c = env.client;
  await c.create(Resources.Manager, managerObj('m', NS));
  c.setStatus(Resources.Manager, NS, 'm', { conditions: [cond('Ready', 'True'), cond('HighlyAvailable', 'False', 'NotEnoughHosts')] });
  for (const h of ['h1', 'h2']) await c.create(Resources.Host, hostObj(h, NS));
  c.setStatus(Resources.Host, NS, 'h1', { ...upHostStatus(16 * GiB, ['data']), conditions: [cond('Ready', 'True')] });
  c.setStatus(Resources.Host, NS, 'h2', { phase: 'NonResponsive', conditions: [cond('Ready', 'False', 'HeartbeatsMissed')] });
  const sd = domainObj('data', NS);
  (sd.spec as Record<string, unknown>)['warningLowSpacePercent'] = 15;
  await c.create(Resources.StorageDomain, sd);
  c.setStatus(Resources.StorageDomain, NS, 'data', { phase: 'Active', capacity: { total: '100Gi', free: '5Gi' }, conditions: [cond('Ready', 'True')] });
  await c.create(Resources.VirtualMachine, vmObj('web', NS));
  c.setStatus(Resources.VirtualMachine, NS, 'web', { phase: 'Running', host: 'h2', conditions: [cond('Ready', 'True'), cond('FailoverBlocked', 'True', 'LeaseHeld')] });
  await c.create(Resources.VirtualMachine, vmObj('new', NS));
  for (const [name, phase] of [['m1', 'Succeeded'], ['m2', 'Succeeded'], ['m3', 'Running']] as const) {
    await c.create(Resources.VirtualMachineMigration, migrationObj(name, NS, 'web'));
    c.setStatus(Resources.VirtualMachineMigration, NS, name, { phase });
  }
  await c.idle();
  await waitFor(() => env.informers.migrations.list().filter((m) => m.status !== undefined).length === 3);
  await waitFor(() => env.informers.virtualMachines.get(`${NS}/web`)?.status !== undefined);
}

describe('environment metrics from the informer caches', () => {
  it('exports phases, conditions, storage capacity and migration counts as the caches hold them', async () => {
    env = await startEnv();
    await populate();
    const registry = new Registry();
    registerDomainMetrics(registry, { informers: env.informers, active: () => true });
    const text = registry.metrics();

    const host = (name: string, phase: string) => sample(text, 'drover_host_status_phase', { namespace: NS, name, phase });
    expect([host('h1', 'Up'), host('h1', 'NonResponsive'), host('h2', 'NonResponsive'), host('h2', 'Up')]).toEqual([1, 0, 1, 0]);
    expect(sample(text, 'drover_host_status_condition', { name: 'h2', condition: 'Ready', status: 'false' })).toBe(1);
    expect(sample(text, 'drover_host_status_condition', { name: 'h2', condition: 'Ready', status: 'true' })).toBe(0);

    expect(sample(text, 'drover_virtualmachine_status_phase', { name: 'web', phase: 'Running' })).toBe(1);
    // A VM with no status yet exists with every phase at 0.
    expect(sample(text, 'drover_virtualmachine_status_phase', { name: 'new', phase: 'Pending' })).toBe(0);
    expect(sample(text, 'drover_virtualmachine_status_condition', { name: 'web', condition: 'FailoverBlocked', status: 'true' })).toBe(1);

    expect(sample(text, 'drover_storagedomain_capacity_bytes', { namespace: NS, name: 'data' })).toBe(100 * GiB);
    expect(sample(text, 'drover_storagedomain_free_bytes', { namespace: NS, name: 'data' })).toBe(5 * GiB);
    expect(sample(text, 'drover_storagedomain_low_space_warning_ratio', { name: 'data' })).toBeCloseTo(0.15);
    expect(sample(text, 'drover_storagedomain_status_phase', { name: 'data', phase: 'Active' })).toBe(1);

    expect(sample(text, 'drover_manager_status_condition', { name: 'm', condition: 'HighlyAvailable', status: 'false' })).toBe(1);
    expect(sample(text, 'drover_virtualmachinemigrations', { namespace: NS, phase: 'Succeeded' })).toBe(2);
    expect(sample(text, 'drover_virtualmachinemigrations', { namespace: NS, phase: 'Running' })).toBe(1);
    expect(sample(text, 'drover_virtualmachinemigrations', { namespace: NS, phase: 'Failed' })).toBe(0);
  });

  it('follows the cache: a changed phase moves its 1, a deleted object leaves no series', async () => {
    env = await startEnv();
    await populate();
    const registry = new Registry();
    registerDomainMetrics(registry, { informers: env.informers, active: () => true });
    expect(sample(registry.metrics(), 'drover_host_status_phase', { name: 'h2', phase: 'NonResponsive' })).toBe(1);

    env.client.setStatus(Resources.Host, NS, 'h2', { phase: 'Up' });
    env.client.delete(Resources.VirtualMachine, NS, 'new');
    await env.client.idle();
    await waitFor(() => env.informers.virtualMachines.get(`${NS}/new`) === undefined && (env.informers.hosts.get(`${NS}/h2`)?.status as { phase?: string }).phase === 'Up');

    const text = registry.metrics();
    expect(sample(text, 'drover_host_status_phase', { name: 'h2', phase: 'NonResponsive' })).toBe(0);
    expect(sample(text, 'drover_host_status_phase', { name: 'h2', phase: 'Up' })).toBe(1);
    expect(sample(text, 'drover_virtualmachine_status_phase', { name: 'new', phase: 'Pending' })).toBeUndefined();
    expect(sample(text, 'drover_virtualmachine_status_phase', { name: 'web', phase: 'Running' })).toBe(1);
  });

  it('exports nothing about the environment from a standby replica', async () => {
    env = await startEnv();
    await populate();
    const registry = new Registry();
    let leading = false;
    registerDomainMetrics(registry, { informers: env.informers, active: () => leading });
    expect(families(registry.metrics()).filter((n) => n.startsWith('drover_'))).toEqual([]);
    leading = true;
    expect(families(registry.metrics())).toEqual(expect.arrayContaining(['drover_host_status_phase', 'drover_storagedomain_free_bytes']));
  });
});

describe('high-availability metrics', () => {
  it('export each Host\'s fencing state and last fencing time, and the VMs being failed over', async () => {
    env = await startEnv();
    const c = env.client;
    for (const h of ['h1', 'h2']) await c.create(Resources.Host, hostObj(h, NS));
    c.setStatus(Resources.Host, NS, 'h1', { phase: 'NonResponsive', fencing: { state: 'Fenced', fencedTime: '2025-03-01T12:00:00Z' } });
    c.setStatus(Resources.Host, NS, 'h2', upHostStatus(16 * GiB, ['data']));
    await c.create(Resources.VirtualMachine, vmObj('web', NS));
    c.setStatus(Resources.VirtualMachine, NS, 'web', { phase: 'Starting', host: 'h2', failover: { fromHost: 'h1', toHost: 'h2', startTime: '2025-03-01T12:00:01Z', attempts: 1 } });
    await c.create(Resources.VirtualMachine, vmObj('calm', NS));
    c.setStatus(Resources.VirtualMachine, NS, 'calm', { phase: 'Running', host: 'h2' });
    await c.idle();
    await waitFor(() => env.informers.virtualMachines.get(`${NS}/web`)?.status !== undefined && env.informers.hosts.get(`${NS}/h1`)?.status !== undefined);
    const registry = new Registry();
    registerDomainMetrics(registry, { informers: env.informers, active: () => true });
    const text = registry.metrics();
    expect(sample(text, 'drover_host_fencing_state', { name: 'h1', state: 'Fenced' })).toBe(1);
    expect(sample(text, 'drover_host_fencing_state', { name: 'h1', state: 'Idle' })).toBe(0);
    expect(sample(text, 'drover_host_fencing_state', { name: 'h2', state: 'Idle' })).toBe(1);
    expect(sample(text, 'drover_host_last_fenced_timestamp_seconds', { name: 'h1' })).toBe(Date.parse('2025-03-01T12:00:00Z') / 1000);
    expect(sample(text, 'drover_host_last_fenced_timestamp_seconds', { name: 'h2' })).toBeUndefined();
    expect(sample(text, 'drover_virtualmachine_failover_in_progress', { name: 'web', from_host: 'h1' })).toBe(1);
    expect(sample(text, 'drover_virtualmachine_failover_in_progress', { name: 'calm' })).toBeUndefined();
  });
});
