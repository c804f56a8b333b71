import { afterEach, describe, expect, it } from '@jest/globals';
import type { Condition, HostStatus, StorageDomainStatus } from '../../../src/api/index.js';
import { hostReconciler } from '../../../src/controllers/host.js';
import { storageDomainReconciler, vmsUsingDomain } from '../../../src/controllers/storagedomain.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import { domainObj, hostObj, startEnv, upHostStatus, vmObj, type TestEnv } from '../support/operator-context.js';

const NS = 'prod';

const condition = (status: unknown, type: string): Condition | undefined =>
  ((status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

const lastStatus = (): unknown => env.client.calls.applyStatus[env.client.calls.applyStatus.length - 1]!.status;

describe('storageDomainReconciler', () => {
  it('adds its finalizer, then reports Unattached while no host is Up', async () => {
    env = await startEnv();
    await env.client.create(Resources.StorageDomain, domainObj('data', NS));
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(env.client.calls.setFinalizers).toEqual([{ plural: 'storagedomains', namespace: NS, name: 'data', finalizers: [FINALIZER] }]);
    expect(env.client.calls.applyStatus).toEqual([]);

    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    const status = lastStatus() as StorageDomainStatus;
    expect(status.phase).toBe('Unattached');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'NoHostUp' });

    await env.client.create(Resources.Host, hostObj('h1', NS));
    env.client.setStatus(Resources.Host, NS, 'h1', upHostStatus(1024 ** 3, []));
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(condition(lastStatus(), 'Ready')).toMatchObject({ status: 'False', reason: 'Activating', message: 'connecting on 1 host(s)' });
  });

  it('blocks deletion while a VM has a disk on the domain, then lets it go once the VM is gone', async () => {
    env = await startEnv();
    await env.client.create(Resources.StorageDomain, domainObj('data', NS, 'Data', { finalizers: [FINALIZER] }));
    await env.client.create(Resources.VirtualMachine, vmObj('db', NS, {}, {}, 'data'));
    await env.client.create(Resources.VirtualMachine, vmObj('web', NS, {}, {}, 'other'));
    env.client.delete(Resources.StorageDomain, NS, 'data');

    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(env.client.calls.setFinalizers).toEqual([]);
    expect(env.client.peek(Resources.StorageDomain, NS, 'data')?.metadata.finalizers).toEqual([FINALIZER]);
    expect(condition(lastStatus(), 'DeletionBlocked')).toMatchObject({
      status: 'True',
      reason: 'DisksInUse',
      message: 'VMs still use this domain: db',
    });
    expect(env.recorder.events).toEqual([expect.objectContaining({ name: 'data', type: 'Warning', reason: 'DeletionBlocked' })]);

    // nothing changed: no second write, no second event
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(env.client.calls.applyStatus).toHaveLength(1);
    expect(env.recorder.events).toHaveLength(1);

    env.client.delete(Resources.VirtualMachine, NS, 'db');
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(env.client.calls.setFinalizers).toEqual([{ plural: 'storagedomains', namespace: NS, name: 'data', finalizers: [] }]);
    expect(env.client.peek(Resources.StorageDomain, NS, 'data')).toBeUndefined();
    expect(env.informers.storageDomains.get(`${NS}/data`)).toBeUndefined();
  });

  it('an Unattached domain moves to Activating once a host is Up', async () => {
    env = await startEnv();
    await env.client.create(Resources.StorageDomain, domainObj('data', NS, 'Data', { finalizers: [FINALIZER] }));
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect((lastStatus() as StorageDomainStatus).phase).toBe('Unattached');
    await env.client.create(Resources.Host, hostObj('h1', NS));
    env.client.setStatus(Resources.Host, NS, 'h1', upHostStatus(1024 ** 3, []));
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(lastStatus()).toMatchObject({ phase: 'Activating', conditions: [expect.objectContaining({ reason: 'Activating' })] });
  });

  it('vmsUsingDomain counts disks and boot files, sorted', () => {
    const vms = [
      vmObj('zeta', NS, {}, {}, 'data'),
      vmObj('alpha', NS, { disks: [], boot: { storageDomain: 'data', kernel: 'vmlinuz' } }, {}, 'x'),
      vmObj('other', NS, {}, {}, 'iso'),
    ];
    expect(vmsUsingDomain(vms, 'data')).toEqual(['alpha', 'zeta']);
    expect(vmsUsingDomain(vms, 'nowhere')).toEqual([]);
  });
});

describe('hostReconciler', () => {
  it('is Connecting (Ready=False) with the agent address when not in maintenance', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS));
    await env.reconcile(hostReconciler, `${NS}/h1`);
    const status = lastStatus() as HostStatus;
    expect(status.phase).toBe('Connecting');
    expect(status.observedGeneration).toBe(1);
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Connecting',
      message: 'waiting for the host agent at h1.example.com:54321',
    });
    expect(env.recorder.events).toEqual([expect.objectContaining({ name: 'h1', reason: 'PhaseChanged', message: 'Host is Connecting' })]);

    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(env.client.calls.applyStatus).toHaveLength(1);
    expect(env.recorder.events).toHaveLength(1);
  });

  it('is in Maintenance when asked and no VM runs on it (stopped VMs and other hosts do not count)', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, { maintenance: true }));
    await env.client.create(Resources.VirtualMachine, vmObj('stopped', NS));
    env.client.setStatus(Resources.VirtualMachine, NS, 'stopped', { phase: 'Stopped', host: 'h1' });
    await env.client.create(Resources.VirtualMachine, vmObj('elsewhere', NS));
    env.client.setStatus(Resources.VirtualMachine, NS, 'elsewhere', { phase: 'Running', host: 'h2' });
    await env.reconcile(hostReconciler, `${NS}/h1`);
    const status = lastStatus() as HostStatus;
    expect(status.phase).toBe('Maintenance');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'Maintenance' });
  });

  it('is PreparingForMaintenance while a Running VM is still on it, then Maintenance once it left', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, { maintenance: true }));
    await env.client.create(Resources.VirtualMachine, vmObj('busy', NS));
    env.client.setStatus(Resources.VirtualMachine, NS, 'busy', { phase: 'Running', host: 'h1' });
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(lastStatus()).toMatchObject({ phase: 'PreparingForMaintenance' });
    expect(condition(lastStatus(), 'Ready')).toMatchObject({ reason: 'PreparingForMaintenance', message: 'waiting for 1 VM(s) to leave the host' });

    env.client.setStatus(Resources.VirtualMachine, NS, 'busy', { phase: 'Running', host: 'h2' });
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(lastStatus()).toMatchObject({ phase: 'Maintenance' });
    expect(env.recorder.events.map((e) => e.message)).toEqual(['Host is PreparingForMaintenance', 'Host is Maintenance']);
  });

  it('reports an invalid Host as InvalidSpec with the field path', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, { port: 70000 }));
    await env.reconcile(hostReconciler, `${NS}/h1`);
    const ready = condition(lastStatus(), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready?.message).toMatch(/^spec\.port: /);
    expect((lastStatus() as HostStatus).phase).toBeUndefined();
  });
});
