import { afterEach, describe, expect, it } from '@jest/globals';
import type { Condition, ManagerStatus } from '../../../src/api/index.js';
import type { HostedEngineStatus } from '../../../src/api/agent/index.js';
import { availabilityConditions, managerReconciler, summarize } from '../../../src/controllers/manager.js';
import { hostedEngineReport, maintenanceChanges } from '../../../src/controllers/manager/hosted-engine.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { Resources } from '../../../src/operator/resources.js';
import { STALE_RETRY_MS } from '../../../src/controllers/stale.js';
import {
  domainObj,
  hostObj,
  lagCache,
  managerObj,
  NOW,
  selfHostedSpec,
  startEnv,
  upHostStatus,
  vmObj,
  waitFor,
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

// ---- SelfHosted ---------------------------------------------------------------

const HE_LABELS = { 'drover.io/hosted-engine': 'true' };

function sharedMetadata(over: Partial<HostedEngineStatus> = {}): HostedEngineStatus {
  const node = (name: string, score: number, state: string, engineRunning = false) => ({
    name,
    score,
    state,
    lastUpdate: '2025-03-01T11:59:58Z',
    live: true,
    localMaintenance: false,
    engineRunning,
    engineHealth: engineRunning ? ('good' as const) : ('unknown' as const),
  });
  return {
    storagePath: '/rhev/he',
    globalMaintenance: false,
    engineHost: 'n1',
    engineState: 'Up',
    nodes: [node('n1', 3400, 'EngineUp', true), node('n2', 3400, 'EngineDown')],
    readAt: '2025-03-01T12:00:00Z',
    ...over,
  };
}

async function selfHostedEnvironment(spec: Record<string, unknown> = selfHostedSpec, shared = sharedMetadata()): Promise<HostedEngineStatus> {
  env = await startEnv();
  await env.client.create(Resources.Manager, managerObj('engine', 'hosted', spec));
  await env.client.create(Resources.Host, hostObj('n1', 'hosted', { selfHostedEngineNode: true }, { labels: HE_LABELS }));
  await env.client.create(Resources.Host, hostObj('n2', 'hosted', { selfHostedEngineNode: true }, { labels: HE_LABELS }));
  // Labelled but not a self-hosted engine node, and a node the selector does not pick: never asked.
  await env.client.create(Resources.Host, hostObj('plain', 'hosted', {}, { labels: HE_LABELS }));
  await env.client.create(Resources.Host, hostObj('other', 'hosted', { selfHostedEngineNode: true }));
  for (const n of ['n1', 'n2', 'plain', 'other']) {
    env.agents.connect(`hosted/${n}`);
  }
  env.agents.agent('hosted/n1').hostedEngine = shared;
  env.agents.agent('hosted/n2').hostedEngine = shared;
  env.agents.agent('hosted/other').hostedEngine = shared;
  return shared;
}

const heCalls = () => env.agents.calls.filter((c) => c.verb === 'hostedEngineStatus' || c.verb === 'setHostedEngineMaintenance');

describe('managerReconciler, SelfHosted', () => {
  it('reports where the Manager VM runs, every node, HostedEngineHighlyAvailable and Ready from one node, and looks again each heartbeat', async () => {
    await selfHostedEnvironment();
    const result = await env.reconcile(managerReconciler, 'hosted/engine');
    expect(result).toEqual({ requeueAfter: 5000 });
    expect(heCalls()).toEqual([{ host: 'hosted/n1', verb: 'hostedEngineStatus', args: [] }]);
    const status = env.client.calls.applyStatus[0]!.status as ManagerStatus;
    expect(status.hostedEngine).toEqual({
      host: 'n1',
      state: 'Up',
      maintenance: 'None',
      nodes: [
        { name: 'n1', score: 3400, state: 'EngineUp', live: true, lastUpdate: '2025-03-01T11:59:58Z' },
        { name: 'n2', score: 3400, state: 'EngineDown', live: true, lastUpdate: '2025-03-01T11:59:58Z' },
      ],
    });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'HostedEngineUp', message: 'the Manager VM runs on n1 and answers its health check' });
    expect(condition(status, 'HostedEngineHighlyAvailable')).toMatchObject({ status: 'True', reason: 'AsExpected' });
    expect(condition(status, 'HostedEngineMaintenanceApplied')).toMatchObject({ status: 'True', reason: 'AsExpected' });
    expect(env.recorder.events).toEqual([expect.objectContaining({ reason: 'HostedEngineMoved', message: 'the Manager VM runs on n1' })]);
  });

  it('writes nothing when only the nodes\' timestamps moved, and asks the node running the VM first', async () => {
    const shared = await selfHostedEnvironment();
    await env.reconcile(managerReconciler, 'hosted/engine');
    for (const n of shared.nodes) n.lastUpdate = '2025-03-01T12:00:03Z';
    await env.reconcile(managerReconciler, 'hosted/engine');
    expect(env.client.calls.applyStatus).toHaveLength(1);
    // A minute later the timestamp is refreshed.
    for (const n of shared.nodes) n.lastUpdate = '2025-03-01T12:01:05Z';
    await env.reconcile(managerReconciler, 'hosted/engine');
    expect(env.client.calls.applyStatus).toHaveLength(2);
    expect((env.client.calls.applyStatus[1]!.status as ManagerStatus).hostedEngine?.nodes?.[0]?.lastUpdate).toBe('2025-03-01T12:01:05Z');
    expect(heCalls().map((c) => c.host)).toEqual(['hosted/n1', 'hosted/n1', 'hosted/n1']);
  });

  it('reports the move and the loss of HA when a node dies, through the node that still answers', async () => {
    const shared = await selfHostedEnvironment();
    await env.reconcile(managerReconciler, 'hosted/engine');
    env.agents.setState('hosted/n1', 'Unreachable', 'connect ECONNREFUSED');
    shared.engineHost = 'n2';
    shared.nodes[0]!.live = false;
    shared.nodes[0]!.state = 'EngineUp';
    shared.nodes[1]!.state = 'EngineUp';
    await env.reconcile(managerReconciler, 'hosted/engine');
    const status = env.client.calls.applyStatus[1]!.status as ManagerStatus;
    expect(status.hostedEngine?.host).toBe('n2');
    expect(condition(status, 'HostedEngineHighlyAvailable')).toMatchObject({
      status: 'False',
      reason: 'NotEnoughNodes',
      message: '1 live node(s) with a positive score: n2 (3400); at least 2 are needed',
    });
    expect(env.recorder.events.map((e) => e.reason)).toEqual(['HostedEngineMoved', 'HostedEngineMoved', 'NotEnoughNodes']);
    expect(heCalls().at(-1)?.host).toBe('hosted/n2');
  });

  it('is Ready=False HostedEngineUnobservable, naming each node, when no node answers', async () => {
    await selfHostedEnvironment();
    env.agents.setState('hosted/n1', 'Unreachable', 'timeout');
    env.agents.agent('hosted/n2').failures.set('hostedEngineStatus', new (await import('../../../src/api/agent/index.js')).AgentApiError(503, 'Unavailable', 'metadata unreadable'));
    await env.reconcile(managerReconciler, 'hosted/engine');
    const status = env.client.calls.applyStatus[0]!.status as ManagerStatus;
    expect(status.hostedEngine).toBeUndefined();
    const ready = condition(status, 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'HostedEngineUnobservable' });
    expect(ready?.message).toContain('n1: agent Unreachable');
    expect(ready?.message).toContain('n2: metadata unreadable');
    expect(condition(status, 'HostedEngineHighlyAvailable')).toMatchObject({ status: 'False', reason: 'NoNodeReachable' });
  });

  it('says so when no Host is a selected self-hosted engine node', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('engine', 'hosted', selfHostedSpec));
    await env.reconcile(managerReconciler, 'hosted/engine');
    const status = env.client.calls.applyStatus[0]!.status as ManagerStatus;
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'HostedEngineUnobservable' });
    expect(condition(status, 'HostedEngineHighlyAvailable')).toMatchObject({ status: 'False', reason: 'NoNodes' });
  });

  it('sets global maintenance from the spec, then reports it applied; back to None clears it', async () => {
    const spec = { ...selfHostedSpec, selfHosted: { ...selfHostedSpec.selfHosted, maintenance: 'Global' } };
    const shared = await selfHostedEnvironment(spec);
    const first = await env.reconcile(managerReconciler, 'hosted/engine');
    expect(first).toEqual({ requeueAfter: 1000 });
    expect(heCalls().filter((c) => c.verb === 'setHostedEngineMaintenance')).toEqual([{ host: 'hosted/n1', verb: 'setHostedEngineMaintenance', args: [{ global: true }] }]);
    expect(shared.globalMaintenance).toBe(true);
    expect(condition(env.client.calls.applyStatus[0]!.status, 'HostedEngineMaintenanceApplied')).toMatchObject({ status: 'False', reason: 'MaintenancePending' });
    await env.reconcile(managerReconciler, 'hosted/engine');
    const status = env.client.calls.applyStatus.at(-1)!.status as ManagerStatus;
    expect(status.hostedEngine?.maintenance).toBe('Global');
    expect(condition(status, 'HostedEngineMaintenanceApplied')).toMatchObject({ status: 'True' });
    expect(condition(status, 'HostedEngineHighlyAvailable')).toMatchObject({ status: 'False', reason: 'GlobalMaintenance' });

    // The spec goes back to None: the operator clears what it set.
    const none = { ...selfHostedSpec, selfHosted: { ...selfHostedSpec.selfHosted, maintenance: 'None' } };
    env.client.update(Resources.Manager, 'hosted', 'engine', (o) => {
      o.spec = none;
    });
    await waitFor(() => (env.informers.managers.get('hosted/engine')?.spec as { selfHosted?: { maintenance?: string } }).selfHosted?.maintenance === 'None');
    await env.reconcile(managerReconciler, 'hosted/engine');
    expect(shared.globalMaintenance).toBe(false);
  });

  it('sets local maintenance on the listed node through that node only, and lifts it from the others', async () => {
    const spec = { ...selfHostedSpec, selfHosted: { ...selfHostedSpec.selfHosted, maintenance: 'Local', localMaintenanceHosts: ['n1'] } };
    const shared = await selfHostedEnvironment(spec);
    shared.nodes[1]!.localMaintenance = true; // set from n2's CLI while the Manager was down
    await env.reconcile(managerReconciler, 'hosted/engine');
    expect(heCalls().filter((c) => c.verb === 'setHostedEngineMaintenance')).toEqual([
      { host: 'hosted/n1', verb: 'setHostedEngineMaintenance', args: [{ local: true }] },
      { host: 'hosted/n2', verb: 'setHostedEngineMaintenance', args: [{ local: false }] },
    ]);
    expect(shared.nodes.map((n) => n.localMaintenance)).toEqual([true, false]);
  });

  it('reports MaintenanceFailed naming the node whose agent is down, and changes nothing through other nodes', async () => {
    const spec = { ...selfHostedSpec, selfHosted: { ...selfHostedSpec.selfHosted, maintenance: 'Local', localMaintenanceHosts: ['n2'] } };
    const shared = await selfHostedEnvironment(spec);
    env.agents.setState('hosted/n2', 'Unreachable', 'timeout');
    await env.reconcile(managerReconciler, 'hosted/engine');
    const status = env.client.calls.applyStatus[0]!.status as ManagerStatus;
    expect(condition(status, 'HostedEngineMaintenanceApplied')).toMatchObject({ status: 'False', reason: 'MaintenanceFailed', message: expect.stringContaining('n2: agent not connected') });
    expect(shared.nodes.map((n) => n.localMaintenance)).toEqual([false, false]);
    expect(heCalls().filter((c) => c.verb === 'setHostedEngineMaintenance')).toEqual([]);
  });

  it('a pass over a stale cache puts no older status back: back to Standalone, a pass still seeing SelfHosted is refused (409) and looks again shortly, quietly', async () => {
    await selfHostedEnvironment();
    const key = 'hosted/engine';
    // One reconciler for every pass, as the controller has (its coalescer and refusal count live across passes).
    const reconciler = managerReconciler(env.ctx);
    const controller = () => reconciler;
    // What a lagging cache will still show later: SelfHosted, no status yet.
    const selfHosted = env.informers.managers.get(key)!;
    await env.reconcile(controller, key);
    expect((env.client.peek(Resources.Manager, 'hosted', 'engine')?.status as ManagerStatus).hostedEngine?.host).toBe('n1');
    env.client.update(Resources.Manager, 'hosted', 'engine', (o) => {
      o.spec = { mode: 'Standalone' };
    });
    await waitFor(() => (env.informers.managers.get(key)?.spec as { mode?: string }).mode === 'Standalone');
    await env.reconcile(controller, key);
    expect((env.client.peek(Resources.Manager, 'hosted', 'engine')?.status as ManagerStatus).hostedEngine).toBeUndefined();
    const writes = env.client.calls.applyStatus.length;
    const events = env.recorder.events.length;

    // The cache falls behind: the pass still sees SelfHosted, and would put hostedEngine back over the Standalone status.
    const restore = lagCache(env.informers.managers, key, selfHosted);
    await expect(env.reconcile(controller, key)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
    const stored = env.client.peek(Resources.Manager, 'hosted', 'engine')?.status as ManagerStatus;
    expect(stored.hostedEngine).toBeUndefined();
    expect(condition(stored, 'HostedEngineHighlyAvailable')).toBeUndefined();
    expect(condition(stored, 'Ready')).toMatchObject({ status: 'True', reason: 'Reconciled' });
    // No event for a transition that was never written.
    expect(env.recorder.events).toHaveLength(events);

    // Caught up: the pass computes the Standalone status again, which is what the server has.
    restore();
    await env.reconcile(controller, key);
    expect(env.client.calls.applyStatus).toHaveLength(writes);
    expect(env.recorder.events).toHaveLength(events);
  });

  it('a Manager deleted after the cache read it: the status write gets 404, which is a stale cache too (quiet short requeue, no error)', async () => {
    await haEnvironment();
    const key = 'prod/engine';
    const reconciler = managerReconciler(env.ctx);
    const controller = () => reconciler;
    await env.reconcile(controller, key);
    // The cache still shows the Manager as it was before its first status (so the pass must write); the server has deleted it.
    const cached = env.informers.managers.get(key)!;
    const restore = lagCache(env.informers.managers, key, { ...cached, status: {} });
    env.client.update(Resources.Manager, 'prod', 'engine', (o) => {
      o.metadata.finalizers = [];
    });
    env.client.delete(Resources.Manager, 'prod', 'engine');
    expect(env.client.peek(Resources.Manager, 'prod', 'engine')).toBeUndefined();
    const writes = env.client.calls.applyStatus.length;
    await expect(env.reconcile(controller, key)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
    expect(env.client.calls.applyStatus).toHaveLength(writes);
    restore();
  });

  it('a refused write does not count as written for coalescing: the counts held back behind it are written once the interval is over', async () => {
    await haEnvironment();
    const key = 'prod/engine';
    const reconciler = managerReconciler(env.ctx);
    const controller = () => reconciler;
    const before = env.informers.managers.get(key)!;
    let now = NOW.getTime();
    env.ctx.now = () => new Date(now);
    await env.reconcile(controller, key);
    const writes = env.client.calls.applyStatus.length;
    expect((env.client.peek(Resources.Manager, 'prod', 'engine')?.status as ManagerStatus).virtualMachines).toEqual({ total: 2, running: 1 });

    // 1.5 s later, a VM more, and a stale pass: its write (more than counts: from no status) is refused.
    now += 1_500;
    await env.client.create(Resources.VirtualMachine, vmObj('vm3', 'prod'));
    await waitFor(() => env.informers.virtualMachines.list('prod').length === 3);
    const restore = lagCache(env.informers.managers, key, before);
    await expect(env.reconcile(controller, key)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
    restore();
    // 2.1 s after the last write that got through: the counts are written now, not held back as if the refused one had been written.
    now += 600;
    await env.reconcile(controller, key);
    expect(env.client.calls.applyStatus).toHaveLength(writes + 1);
    expect((env.client.peek(Resources.Manager, 'prod', 'engine')?.status as ManagerStatus).virtualMachines).toEqual({ total: 3, running: 1 });
  });

  it('drops hostedEngine and its conditions when the Manager goes back to Standalone', async () => {
    await selfHostedEnvironment();
    await env.reconcile(managerReconciler, 'hosted/engine');
    env.client.update(Resources.Manager, 'hosted', 'engine', (o) => {
      o.spec = { mode: 'Standalone' };
    });
    await waitFor(() => (env.informers.managers.get('hosted/engine')?.spec as { mode?: string }).mode === 'Standalone');
    const result = await env.reconcile(managerReconciler, 'hosted/engine');
    expect(result).toBeUndefined();
    const status = env.client.calls.applyStatus.at(-1)!.status as ManagerStatus;
    expect(status.hostedEngine).toBeUndefined();
    expect(condition(status, 'HostedEngineHighlyAvailable')).toBeUndefined();
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Reconciled' });
  });
});

describe('managerReconciler, SelfHosted, looking at the metadata', () => {
  it('reuses a look younger than half a heartbeat interval, and looks again after that or after a spec change', async () => {
    await selfHostedEnvironment();
    let now = NOW.getTime();
    env.ctx.now = () => new Date(now);
    const reconcile = managerReconciler(env.ctx);
    const rc = { key: 'hosted/engine', namespace: 'hosted', name: 'engine', log: env.ctx.log, signal: new AbortController().signal } as never;
    await reconcile('hosted/engine', rc);
    now += 1000; // a host changed: no new look
    await reconcile('hosted/engine', rc);
    expect(heCalls()).toHaveLength(1);
    now += 2000; // the periodic requeue (heartbeat 5 s): past half the interval
    await reconcile('hosted/engine', rc);
    expect(heCalls()).toHaveLength(2);
    env.client.update(Resources.Manager, 'hosted', 'engine', (o) => {
      (o.spec as { availability?: object }).availability = { heartbeatIntervalSeconds: 7 };
    });
    await waitFor(() => env.informers.managers.get('hosted/engine')?.metadata.generation === 2);
    await reconcile('hosted/engine', rc);
    expect(heCalls()).toHaveLength(3);
  });
});

describe('hosted-engine helpers', () => {
  it('maintenanceChanges asks nothing when the metadata already matches', () => {
    const s = sharedMetadata();
    expect(maintenanceChanges({ ...selfHostedSpec.selfHosted, maintenance: 'None' } as never, s, 'n1', ['n1', 'n2'])).toEqual([]);
  });

  it('hostedEngineReport keeps a node\'s lastUpdate only while nothing else changed', () => {
    const s = sharedMetadata();
    const first = hostedEngineReport(s, undefined);
    s.nodes[1]!.score = 1800;
    s.nodes[1]!.lastUpdate = '2025-03-01T12:00:04Z';
    s.nodes[0]!.lastUpdate = '2025-03-01T12:00:04Z';
    const second = hostedEngineReport(s, first);
    expect(second.nodes?.map((n) => n.lastUpdate)).toEqual(['2025-03-01T11:59:58Z', '2025-03-01T12:00:04Z']);
  });
});
