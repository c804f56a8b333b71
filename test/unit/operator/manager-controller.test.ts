import { afterEach, describe, expect, it } from '@jest/globals';
import type { Condition, ManagerStatus } from '../../../src/api/index.js';
import { availabilityConditions, managerReconciler, summarize } from '../../../src/controllers/manager.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { Resources } from '../../../src/operator/resources.js';
import {
  domainObj,
  hostObj,
  managerObj,
  selfHostedSpec,
  startEnv,
  upHostStatus,
  vmObj,
  type TestEnv,
} from '../support/operator-context.js';

const GiB = 1024 ** 3;
const NOW_RFC3339 = '2025-03-01T12:00:00Z';

// ---- plain objects for summarize ------------------------------------------

const h = (name: string, phase?: string): KubeObject => ({ metadata: { name, namespace: 'ns' }, spec: {}, ...(phase ? { status: { phase } } : {}) });
const d = (name: string, phase: string, connected: string[], role?: string, disconnected: string[] = []): KubeObject => ({
  metadata: { name, namespace: 'ns' },
  spec: role ? { role } : {},
  status: {
    phase,
    hosts: [...connected.map((n) => ({ name: n, connected: true })), ...disconnected.map((n) => ({ name: n, connected: false }))],
  },
});
const v = (name: string, phase?: string): KubeObject => ({ metadata: { name, namespace: 'ns' }, spec: {}, ...(phase ? { status: { phase } } : {}) });

describe('summarize and availabilityConditions', () => {
  it('counts hosts, domains and VMs', () => {
    const s = summarize(
      [h('b', 'Up'), h('a', 'Up'), h('c', 'Maintenance'), h('d')],
      [d('data', 'Active', ['a', 'b']), d('iso', 'Active', ['a', 'b'], 'ISO'), d('spare', 'Activating', [])],
      [v('x', 'Running'), v('y', 'Stopped'), v('z')],
    );
    expect(s).toEqual({
      hostsTotal: 4,
      hostsUp: ['a', 'b'],
      activeData: ['data'],
      storageTotal: 3,
      unreachable: [],
      vmsTotal: 3,
      vmsRunning: 1,
    });
  });

  it('is HighlyAvailable with two Up hosts connected to every Active Data domain', () => {
    const { storage, ha } = availabilityConditions(
      summarize([h('a', 'Up'), h('b', 'Up')], [d('data', 'Active', ['a', 'b']), d('data2', 'Active', ['b', 'a'])], []),
    );
    expect(storage).toEqual([true, 'AsExpected', 'every Up host reaches data, data2']);
    expect(ha).toEqual([true, 'AsExpected', '2 hosts Up (a, b) reach Active Data storage']);
  });

  it('needs at least two Up hosts (NotEnoughHosts), even with good storage', () => {
    const { storage, ha } = availabilityConditions(summarize([h('a', 'Up'), h('b', 'Connecting'), h('c')], [d('data', 'Active', ['a'])], []));
    expect(storage[0]).toBe(true);
    expect(ha).toEqual([false, 'NotEnoughHosts', '1 of 3 hosts Up; at least 2 are needed']);
    expect(availabilityConditions(summarize([], [], [])).ha[1]).toBe('NotEnoughHosts');
  });

  it('needs an Active Data domain: ISO and non-Active domains do not count (NoActiveDataDomain)', () => {
    const hosts = [h('a', 'Up'), h('b', 'Up')];
    for (const domains of [[], [d('iso', 'Active', ['a', 'b'], 'ISO')], [d('data', 'Activating', ['a', 'b'])], [d('he', 'Active', ['a', 'b'], 'HostedEngine')]]) {
      const { storage, ha } = availabilityConditions(summarize(hosts, domains, []));
      expect(storage).toEqual([false, 'NoActiveDataDomain', 'no Data storage domain is Active']);
      expect(ha).toEqual([false, 'NoActiveDataDomain', 'no Data storage domain is Active']);
    }
  });

  it('treats a domain without spec.role as Data', () => {
    const s = summarize([h('a', 'Up'), h('b', 'Up')], [d('data', 'Active', ['a', 'b'])], []);
    expect(s.activeData).toEqual(['data']);
    expect(availabilityConditions(s).ha[0]).toBe(true);
  });

  it('names every Up host that cannot reach an Active Data domain (HostsCannotReachStorage)', () => {
    const s = summarize(
      [h('a', 'Up'), h('b', 'Up'), h('c', 'Up'), h('down', 'NonResponsive')],
      [d('data', 'Active', ['a'], 'Data', ['b']), d('data2', 'Active', ['a', 'b', 'c'])],
      [],
    );
    const { storage, ha } = availabilityConditions(s);
    expect(storage).toEqual([false, 'HostsCannotReachStorage', 'b cannot reach data, c cannot reach data']);
    expect(ha).toEqual(storage);
  });
});

// ---- the reconciler ---------------------------------------------------------

const condition = (status: unknown, type: string): Condition | undefined =>
  ((status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

async function haEnvironment(): Promise<TestEnv> {
  env = await startEnv();
  const { client } = env;
  await client.create(Resources.Manager, managerObj('engine', 'prod'));
  for (const name of ['h1', 'h2', 'h3']) await client.create(Resources.Host, hostObj(name, 'prod'));
  client.setStatus(Resources.Host, 'prod', 'h1', upHostStatus(16 * GiB, ['data']));
  client.setStatus(Resources.Host, 'prod', 'h2', upHostStatus(16 * GiB, ['data']));
  await client.create(Resources.StorageDomain, domainObj('data', 'prod'));
  await client.create(Resources.StorageDomain, domainObj('iso', 'prod', 'ISO'));
  client.setStatus(Resources.StorageDomain, 'prod', 'data', { phase: 'Active', hosts: [{ name: 'h1', connected: true }, { name: 'h2', connected: true }] });
  client.setStatus(Resources.StorageDomain, 'prod', 'iso', { phase: 'Active', hosts: [] });
  await client.create(Resources.VirtualMachine, vmObj('vm1', 'prod'));
  await client.create(Resources.VirtualMachine, vmObj('vm2', 'prod'));
  client.setStatus(Resources.VirtualMachine, 'prod', 'vm1', { phase: 'Running', host: 'h1' });
  // noise in another namespace
  await client.create(Resources.Host, hostObj('other', 'dev'));
  await client.create(Resources.VirtualMachine, vmObj('vm-dev', 'dev'));
  return env;
}

describe('managerReconciler', () => {
  it('writes counts and conditions into status once, and nothing on a second reconcile', async () => {
    await haEnvironment();
    await env.reconcile(managerReconciler, 'prod/engine');
    expect(env.client.calls.applyStatus).toHaveLength(1);
    const status = env.client.calls.applyStatus[0]!.status as ManagerStatus;
    expect(status.observedGeneration).toBe(1);
    expect(status.hosts).toEqual({ total: 3, up: 2 });
    expect(status.storageDomains).toEqual({ total: 2, active: 1 });
    expect(status.virtualMachines).toEqual({ total: 2, running: 1 });
    expect(condition(status, 'Ready')).toEqual({
      type: 'Ready',
      status: 'True',
      observedGeneration: 1,
      lastTransitionTime: NOW_RFC3339,
      reason: 'Reconciled',
      message: 'the Manager is reconciling this namespace',
    });
    expect(condition(status, 'HighlyAvailable')).toMatchObject({ status: 'True', reason: 'AsExpected' });
    expect(condition(status, 'StorageReachable')).toMatchObject({ status: 'True', reason: 'AsExpected' });
    expect(env.informers.managers.get('prod/engine')?.status).toEqual(status);

    await env.reconcile(managerReconciler, 'prod/engine');
    expect(env.client.calls.applyStatus).toHaveLength(1);
    expect(env.recorder.events).toEqual([]);
  });

  it('reports HighlyAvailable=False with the storage reason when an Up host cannot reach the Data domain, with one event on the change', async () => {
    await haEnvironment();
    await env.reconcile(managerReconciler, 'prod/engine');
    env.client.setStatus(Resources.StorageDomain, 'prod', 'data', { phase: 'Active', hosts: [{ name: 'h1', connected: true }, { name: 'h2', connected: false }] });

    await env.reconcile(managerReconciler, 'prod/engine');
    const status = env.client.calls.applyStatus[1]!.status;
    expect(condition(status, 'HighlyAvailable')).toMatchObject({ status: 'False', reason: 'HostsCannotReachStorage', message: 'h2 cannot reach data' });
    expect(condition(status, 'StorageReachable')).toMatchObject({ status: 'False', reason: 'HostsCannotReachStorage' });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True' });
    expect(env.recorder.events).toEqual([
      expect.objectContaining({ name: 'engine', type: 'Warning', reason: 'HostsCannotReachStorage' }),
    ]);

    await env.reconcile(managerReconciler, 'prod/engine');
    expect(env.client.calls.applyStatus).toHaveLength(2);
    expect(env.recorder.events).toHaveLength(1);
  });

  it('reports NotEnoughHosts when only one host is Up', async () => {
    await haEnvironment();
    env.client.setStatus(Resources.Host, 'prod', 'h2', { phase: 'NonResponsive' });
    await env.reconcile(managerReconciler, 'prod/engine');
    const status = env.client.calls.applyStatus[0]!.status as ManagerStatus;
    expect(status.hosts).toEqual({ total: 3, up: 1 });
    expect(condition(status, 'HighlyAvailable')).toMatchObject({ status: 'False', reason: 'NotEnoughHosts' });
  });

  it('marks the newer of two Managers in a namespace Ready=False DuplicateManager, naming the older', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('first', 'prod'));
    await env.client.create(Resources.Manager, managerObj('second', 'prod'));
    await env.client.create(Resources.Manager, managerObj('solo', 'other'));
    await env.reconcile(managerReconciler, 'prod/second');
    await env.reconcile(managerReconciler, 'prod/first');
    await env.reconcile(managerReconciler, 'other/solo');
    const byName = Object.fromEntries(env.client.calls.applyStatus.map((c) => [c.name, c.status]));
    expect(condition(byName['second'], 'Ready')).toMatchObject({
      status: 'False',
      reason: 'DuplicateManager',
      message: expect.stringContaining('Manager first already manages namespace prod'),
    });
    expect(condition(byName['first'], 'Ready')).toMatchObject({ status: 'True', reason: 'Reconciled' });
    expect(condition(byName['solo'], 'Ready')).toMatchObject({ status: 'True', reason: 'Reconciled' });
  });

  it('breaks a creationTimestamp tie by name', async () => {
    env = await startEnv();
    const ts = '2025-01-01T00:00:00Z';
    await env.client.create(Resources.Manager, managerObj('bbb', 'prod', {}, { creationTimestamp: ts }));
    await env.client.create(Resources.Manager, managerObj('aaa', 'prod', {}, { creationTimestamp: ts }));
    await env.reconcile(managerReconciler, 'prod/bbb');
    await env.reconcile(managerReconciler, 'prod/aaa');
    const byName = Object.fromEntries(env.client.calls.applyStatus.map((c) => [c.name, c.status]));
    expect(condition(byName['bbb'], 'Ready')).toMatchObject({ status: 'False', reason: 'DuplicateManager' });
    expect(condition(byName['aaa'], 'Ready')).toMatchObject({ status: 'True' });
  });

  it('keeps a SelfHosted Manager Ready=False until its engine VM runs', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('engine', 'hosted', selfHostedSpec));
    await env.reconcile(managerReconciler, 'hosted/engine');
    expect(env.client.calls.applyStatus).toHaveLength(1);
    expect(condition(env.client.calls.applyStatus[0]!.status, 'Ready')).toMatchObject({ status: 'False', reason: 'HostedEngineUnavailable' });
  });

  it('reports an invalid spec as Ready=False InvalidSpec with the field path, once', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('engine', 'prod', { mode: 'Cluster' }));
    await env.reconcile(managerReconciler, 'prod/engine');
    await env.reconcile(managerReconciler, 'prod/engine');
    expect(env.client.calls.applyStatus).toHaveLength(1);
    const ready = condition(env.client.calls.applyStatus[0]!.status, 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready?.message).toMatch(/^spec\.mode: /);
    expect(condition(env.client.calls.applyStatus[0]!.status, 'HighlyAvailable')).toBeUndefined();
    expect(env.recorder.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'InvalidSpec', name: 'engine' })]);
  });

  it('does nothing for a Manager that is not in the cache', async () => {
    env = await startEnv();
    await env.reconcile(managerReconciler, 'prod/ghost');
    expect(env.client.calls.applyStatus).toEqual([]);
    expect(env.recorder.events).toEqual([]);
  });
});
