import { afterEach, describe, expect, it } from '@jest/globals';
import type { Condition, VirtualMachineStatus } from '../../../src/api/index.js';
import { virtualMachineReconciler } from '../../../src/controllers/virtualmachine.js';
import { hostedEngineReservation, hostViews, schedulingPolicy } from '../../../src/controllers/vm/placement.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import { FakeObjectClient } from '../support/fake-client.js';
import { hostObj, managerObj, selfHostedSpec, startEnv, upHostStatus, vmObj, type TestEnv } from '../support/operator-context.js';

const GiB = 1024 ** 3;
const NS = 'prod';

const condition = (status: unknown, type: string): Condition | undefined =>
  ((status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

/** A VM that already carries the finalizer, so one reconcile goes straight to status. */
async function createVM(name: string, spec: Record<string, unknown> = {}): Promise<void> {
  await env.client.create(Resources.VirtualMachine, vmObj(name, NS, spec, { finalizers: [FINALIZER] }));
}

async function upHost(name: string, memoryBytes: number, domains = ['data'], labels?: Record<string, string>): Promise<void> {
  await env.client.create(Resources.Host, hostObj(name, NS, {}, labels ? { labels } : {}));
  env.client.setStatus(Resources.Host, NS, name, upHostStatus(memoryBytes, domains));
}

const lastStatus = (): VirtualMachineStatus => env.client.calls.applyStatus[env.client.calls.applyStatus.length - 1]!.status as VirtualMachineStatus;

describe('virtualMachineReconciler', () => {
  it('adds the finalizer first and goes on in the same reconcile', async () => {
    env = await startEnv();
    await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, {}, { finalizers: ['example.com/other'] }));
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(env.client.calls.setFinalizers).toEqual([{ plural: 'virtualmachines', namespace: NS, name: 'vm', finalizers: ['example.com/other', FINALIZER] }]);
    expect(env.informers.virtualMachines.get(`${NS}/vm`)?.metadata.finalizers).toEqual(['example.com/other', FINALIZER]);
    // No host yet: the same pass already says the VM is Pending.
    expect(env.client.calls.applyStatus).toHaveLength(1);
    expect(lastStatus().phase).toBe('Pending');

    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(env.client.calls.setFinalizers).toHaveLength(1);
    expect(env.client.calls.applyStatus).toHaveLength(1);
  });

  it('keeps a Halted VM Stopped and Ready (reason Halted), dropping a stale Scheduled condition', async () => {
    env = await startEnv();
    await createVM('vm', { runStrategy: 'Halted' });
    env.client.setStatus(Resources.VirtualMachine, NS, 'vm', {
      conditions: [{ type: 'Scheduled', status: 'False', reason: 'NoHostAvailable', message: 'x', lastTransitionTime: '2025-01-01T00:00:00Z' }],
    });
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    const status = lastStatus();
    expect(status.phase).toBe('Stopped');
    expect(status.observedGeneration).toBe(1);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Halted' });
    expect(condition(status, 'Scheduled')).toBeUndefined();
    expect(env.client.calls.setFinalizers).toEqual([]);
  });

  it('with no hosts: Pending, Scheduled=False NoHostAvailable, Ready=False', async () => {
    env = await startEnv();
    await createVM('vm');
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    const status = lastStatus();
    expect(status.phase).toBe('Pending');
    expect(condition(status, 'Scheduled')).toMatchObject({ status: 'False', reason: 'NoHostAvailable', message: 'no hosts in this namespace' });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'NoHostAvailable' });

    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(env.client.calls.applyStatus).toHaveLength(1);
  });

  it('names each host and why it cannot run the VM', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS)); // no status yet
    await env.client.create(Resources.Host, hostObj('h2', NS, { maintenance: true }));
    env.client.setStatus(Resources.Host, NS, 'h2', upHostStatus(16 * GiB, ['data']));
    await upHost('h3', 16 * GiB, ['elsewhere']);
    await upHost('h4', 512 * 1024 ** 2);
    // a host that could run it, but in another namespace
    await env.client.create(Resources.Host, hostObj('remote', 'other'));
    env.client.setStatus(Resources.Host, 'other', 'remote', upHostStatus(64 * GiB, ['data']));
    await createVM('vm');
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    const scheduled = condition(lastStatus(), 'Scheduled');
    expect(scheduled).toMatchObject({ status: 'False', reason: 'NoHostAvailable' });
    expect(scheduled?.message).toBe(
      'no host can run the VM (h1: host is not yet reporting; h2: host is in maintenance; ' +
        'h3: host is not connected to storage domain data; h4: not enough free memory)',
    );
    expect(lastStatus().phase).toBe('Pending');
  });

  it('EvenlyDistributed (the default) places the VM on the host with more free memory', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('engine', NS));
    await upHost('small', 8 * GiB);
    await upHost('big', 32 * GiB);
    await createVM('vm');
    env.agents.connect(`${NS}/big`);
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    // placement is written before anything happens on the host
    const placed = env.client.calls.applyStatus[0]!.status as VirtualMachineStatus;
    expect(condition(placed, 'Scheduled')).toMatchObject({ status: 'True', reason: 'Scheduled', message: 'placed on big' });
    expect(condition(placed, 'Ready')).toMatchObject({ status: 'False', reason: 'Starting', message: 'starting on big' });
    expect(placed).toMatchObject({ phase: 'Starting', host: 'big' });
    const uid = env.client.peek(Resources.VirtualMachine, NS, 'vm')!.metadata.uid!;
    expect(env.agents.verbs()).toEqual([`${NS}/big createVolume`, `${NS}/big defineVm`, `${NS}/big startVm`]);
    const status = lastStatus();
    expect(status).toMatchObject({ phase: 'Running', host: 'big', domainUUID: uid, runningGeneration: 1 });
    expect(status.disks).toEqual([{ name: 'root', storageDomain: 'data', volume: `vm-root-${uid.replace(/-/g, '').slice(0, 8)}`, created: true }]);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Running' });
  });

  it('PowerSaving on the Manager places the VM on the host with less free memory', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('engine', NS, { scheduling: { policy: 'PowerSaving' } }));
    await upHost('small', 8 * GiB);
    await upHost('big', 32 * GiB);
    await createVM('vm');
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(condition(lastStatus(), 'Scheduled')).toMatchObject({ status: 'True', message: 'placed on small' });
  });

  it('counts the memory of VMs already on a host, and honours the host selector', async () => {
    env = await startEnv();
    await upHost('a', 16 * GiB, ['data'], { zone: 'z1' });
    await upHost('b', 16 * GiB, ['data'], { zone: 'z1' });
    await upHost('c', 64 * GiB, ['data'], { zone: 'z2' });
    await createVM('resident', { memory: '8Gi' });
    env.client.setStatus(Resources.VirtualMachine, NS, 'resident', { phase: 'Running', host: 'a' });
    await createVM('vm', { placement: { hostSelector: { matchLabels: { zone: 'z1' } } } });
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(condition(lastStatus(), 'Scheduled')?.message).toBe('placed on b');
  });

  it('reports a VM without spec.cpu as InvalidSpec naming the field, with one Warning event, before any finalizer', async () => {
    env = await startEnv();
    const bad = vmObj('bad', NS);
    delete (bad.spec as Record<string, unknown>)['cpu'];
    await env.client.create(Resources.VirtualMachine, bad);
    await env.reconcile(virtualMachineReconciler, `${NS}/bad`);
    expect(env.client.calls.applyStatus).toHaveLength(1);
    const ready = condition(lastStatus(), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec', observedGeneration: 1 });
    expect(ready?.message).toContain('spec.cpu');
    expect(env.recorder.events).toEqual([
      { kind: 'VirtualMachine', namespace: NS, name: 'bad', type: 'Warning', reason: 'InvalidSpec', message: ready!.message },
    ]);
    expect(env.client.calls.setFinalizers).toEqual([]);

    await env.reconcile(virtualMachineReconciler, `${NS}/bad`);
    expect(env.client.calls.applyStatus).toHaveLength(1);
    expect(env.recorder.events).toHaveLength(1);
  });

  it('removes the finalizer of a deleted VM that was never placed', async () => {
    env = await startEnv();
    await createVM('vm');
    env.client.delete(Resources.VirtualMachine, NS, 'vm');
    expect(env.informers.virtualMachines.get(`${NS}/vm`)?.metadata.deletionTimestamp).toBeDefined();
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(env.client.calls.setFinalizers).toEqual([{ plural: 'virtualmachines', namespace: NS, name: 'vm', finalizers: [] }]);
    expect(env.client.peek(Resources.VirtualMachine, NS, 'vm')).toBeUndefined();
    expect(env.informers.virtualMachines.get(`${NS}/vm`)).toBeUndefined();
    expect(env.client.calls.applyStatus).toEqual([]);
  });

  it('keeps the finalizer of a deleted VM that is placed on a host', async () => {
    env = await startEnv();
    await createVM('vm');
    await env.client.create(Resources.Host, hostObj('h1', NS));
    env.client.setStatus(Resources.VirtualMachine, NS, 'vm', { phase: 'Running', host: 'h1' });
    env.client.delete(Resources.VirtualMachine, NS, 'vm');
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(env.client.calls.setFinalizers).toEqual([]);
    expect(env.client.peek(Resources.VirtualMachine, NS, 'vm')?.metadata.finalizers).toEqual([FINALIZER]);
  });
});

describe('hostViews and schedulingPolicy', () => {
  it('sums memory and vCPUs of the VMs placed on each host, ignoring disconnected domains', () => {
    const views = hostViews(
      [
        {
          metadata: { name: 'a', labels: { zone: 'z' } },
          spec: { maintenance: true },
          status: {
            phase: 'Up',
            capabilities: { memoryBytes: 100, cpu: { sockets: 2, cores: 4, threads: 2 } },
            storageDomains: [
              { name: 'data', connected: true },
              { name: 'gone', connected: false },
            ],
          },
        },
        { metadata: { name: 'b' } },
      ],
      [
        { metadata: { name: 'v1' }, spec: { memory: '1Gi', cpu: { cores: 2, sockets: 2 } }, status: { host: 'a' } },
        { metadata: { name: 'v2' }, spec: { memory: 'not-a-quantity', cpu: { cores: 1 } }, status: { host: 'a' } },
        { metadata: { name: 'v3' }, spec: { memory: '1Gi', cpu: { cores: 8 } }, status: { host: 'elsewhere' } },
      ],
    );
    expect(views[0]).toMatchObject({
      name: 'a',
      labels: { zone: 'z' },
      phase: 'Up',
      maintenance: true,
      memoryBytes: 100,
      cpuThreads: 16,
      committedMemoryBytes: GiB,
      committedVcpus: 5,
    });
    expect([...views[0]!.storageDomains]).toEqual(['data']);
    expect(views[1]).toMatchObject({ name: 'b', phase: undefined, maintenance: false, memoryBytes: undefined, cpuThreads: undefined, committedVcpus: 0 });
  });

  it('uses the Manager scheduling policy, or the defaults without a (valid) Manager', () => {
    expect(schedulingPolicy([])).toEqual({ policy: 'EvenlyDistributed', cpuOvercommitPercent: 400, memoryOvercommitPercent: 100 });
    expect(schedulingPolicy([managerObj('m', NS, { scheduling: { policy: 'PowerSaving', memoryOvercommitPercent: 150 } })])).toEqual({
      policy: 'PowerSaving',
      cpuOvercommitPercent: 400,
      memoryOvercommitPercent: 150,
    });
    expect(schedulingPolicy([managerObj('m', NS, { scheduling: { policy: 'Random' } })]).policy).toBe('EvenlyDistributed');
  });
});

// Regressions of bugs these tests found.
describe('placement accounting and policy source', () => {
  it('hostViews: the self-hosted Manager VM holds its memory and cores on the node running it, and nothing where it does not run', () => {
    const manager = { ...managerObj('m', NS, selfHostedSpec), status: { hostedEngine: { host: 'b', state: 'Up' } } };
    const reserved = hostedEngineReservation([manager]);
    expect([...reserved]).toEqual([['b', { memoryBytes: 512 * 2 ** 20, vcpus: 2 }]]);
    const views = hostViews([hostObj('a', NS), hostObj('b', NS)], [{ ...vmObj('vm', NS), status: { phase: 'Running', host: 'b' } }], undefined, reserved);
    expect(views.map((v) => [v.committedMemoryBytes, v.committedVcpus])).toEqual([[0, 0], [GiB + 512 * 2 ** 20, 3]]);
    // Standalone, or running nowhere: nothing held.
    expect(hostedEngineReservation([managerObj('m', NS)]).size).toBe(0);
    expect(hostedEngineReservation([{ ...managerObj('m', NS, selfHostedSpec), status: { hostedEngine: { state: 'Down' } } }]).size).toBe(0);
  });

  it('hostViews: a VM this process just placed counts on its host before the cache shows status.host', () => {
    const placed = { ...vmObj('placed', NS, {}, { uid: 'u-placed' }), status: { phase: 'Pending' } };
    const views = hostViews([hostObj('a', NS), hostObj('b', NS)], [placed], new Map([['u-placed', 'b']]));
    expect(views[0]).toMatchObject({ committedMemoryBytes: 0, committedVcpus: 0 });
    expect(views[1]).toMatchObject({ committedMemoryBytes: GiB, committedVcpus: 1 });
    // Once the cache shows where it is, that wins.
    const shown = { ...placed, status: { phase: 'Running', host: 'a' } };
    expect(hostViews([hostObj('a', NS), hostObj('b', NS)], [shown], new Map([['u-placed', 'b']])).map((v) => v.committedVcpus)).toEqual([1, 0]);
  });

  it('hostViews: a Stopped VM that last ran on a host (status.host kept) holds no memory or vCPUs there', () => {
    const views = hostViews(
      [hostObj('a', NS)],
      [{ ...vmObj('stopped', NS), status: { phase: 'Stopped', host: 'a' } }, { ...vmObj('failed', NS), status: { phase: 'Failed', host: 'a' } }],
    );
    expect(views[0]).toMatchObject({ committedMemoryBytes: 0, committedVcpus: 0 });
  });

  it('schedulingPolicy: the policy comes from the oldest (real) Manager, not from a newer duplicate listed first', async () => {
    const client = new FakeObjectClient();
    // created before the informers start, so the cache holds them in list (name) order: aaa, zzz
    await client.create(Resources.Manager, managerObj('zzz', NS, { scheduling: { policy: 'PowerSaving' } }));
    await client.create(Resources.Manager, managerObj('aaa', NS)); // newer: the DuplicateManager
    for (const [name, mem] of [['small', 8 * GiB], ['big', 32 * GiB]] as const) {
      await client.create(Resources.Host, hostObj(name, NS));
      client.setStatus(Resources.Host, NS, name, upHostStatus(mem, ['data']));
    }
    await client.create(Resources.VirtualMachine, vmObj('vm', NS, {}, { finalizers: [FINALIZER] }));
    env = await startEnv(client);
    await env.reconcile(virtualMachineReconciler, `${NS}/vm`);
    expect(condition(lastStatus(), 'Scheduled')?.message).toBe('placed on small');
  });
});
