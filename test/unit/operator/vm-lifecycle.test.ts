import { afterEach, describe, expect, it } from '@jest/globals';
import type { Condition, MigrationStatus, VirtualMachineStatus } from '../../../src/api/index.js';
import { migrationReconciler } from '../../../src/controllers/migration.js';
import { virtualMachineReconciler } from '../../../src/controllers/virtualmachine.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { hostObj, managerObj, migrationObj, reconcileSettled, settle as settleEnv, startEnv, upHostStatus, vmObj, waitFor, type TestEnv } from '../support/operator-context.js';

const GiB = 1024 ** 3;
const NS = 'prod';
let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

const cond = (s: unknown, type: string): Condition | undefined => ((s as { conditions?: Condition[] }).conditions ?? []).find((c) => c.type === type);
const vmStatus = (name = 'vm') => (env.client.peek(Resources.VirtualMachine, NS, name)?.status ?? {}) as VirtualMachineStatus;

const settle = () => settleEnv(env);
const reconcileVm = (name = 'vm') => reconcileSettled(env, virtualMachineReconciler, `${NS}/${name}`);

async function twoHosts(): Promise<void> {
  await env.client.create(Resources.Manager, managerObj('m', NS));
  for (const h of ['h1', 'h2']) {
    await env.client.create(Resources.Host, hostObj(h, NS));
    env.client.setStatus(Resources.Host, NS, h, upHostStatus(16 * GiB, ['data']));
    env.agents.connect(`${NS}/${h}`);
  }
  await settle();
}

async function runningVm(spec: Record<string, unknown> = {}): Promise<KubeObject> {
  await twoHosts();
  const vm = await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, spec, { finalizers: [FINALIZER] }));
  await reconcileVm();
  expect(vmStatus().phase).toBe('Running');
  return vm;
}

/** Makes the domain stop on its host as libvirt would report it. */
function domainStops(uid: string, reason: string): string {
  const host = vmStatus().host!;
  const agent = env.agents.agent(`${NS}/${host}`);
  agent.vms.set(uid, { ...agent.vms.get(uid)!, state: 'shut off', reason });
  env.agents.sync(`${NS}/${host}`);
  return host;
}

describe('runStrategy', () => {
  it('Always restarts after a guest poweroff and after a crash, with a Restarted event', async () => {
    env = await startEnv();
    const vm = await runningVm();
    const host = domainStops(vm.metadata.uid!, 'shutdown');
    await reconcileVm();
    expect(vmStatus()).toMatchObject({ phase: 'Running', host });
    expect(env.agents.verbs().filter((v) => v.endsWith('startVm'))).toHaveLength(2);
    expect(env.recorder.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['Stopped', 'Restarted']));
    domainStops(vm.metadata.uid!, 'crashed');
    await reconcileVm();
    expect(vmStatus().phase).toBe('Running');
    expect(env.agents.verbs().filter((v) => v.endsWith('startVm'))).toHaveLength(3);
    expect(env.recorder.events.map((e) => e.reason)).toContain('Crashed');
  });

  it('RerunOnFailure restarts after a crash but not after a clean guest poweroff', async () => {
    env = await startEnv();
    const vm = await runningVm({ runStrategy: 'RerunOnFailure' });
    domainStops(vm.metadata.uid!, 'crashed');
    await reconcileVm();
    expect(vmStatus().phase).toBe('Running');
    domainStops(vm.metadata.uid!, 'shutdown');
    await reconcileVm();
    expect(vmStatus()).toMatchObject({ phase: 'Stopped', lastStopReason: 'Shutdown' });
    await reconcileVm();
    expect(vmStatus().phase).toBe('Stopped');
    expect(env.agents.verbs().filter((v) => v.endsWith('startVm'))).toHaveLength(2);
    expect(cond(vmStatus(), 'Ready')).toMatchObject({ status: 'True' });
  });

  it('Halted stops a running VM through the agent with the grace period; Always starts it again on the same host', async () => {
    env = await startEnv();
    const vm = await runningVm({ terminationGracePeriodSeconds: 7 });
    const host = vmStatus().host;
    env.client.update(Resources.VirtualMachine, NS, 'vm', (o) => {
      (o.spec as { runStrategy: string }).runStrategy = 'Halted';
    });
    await reconcileVm();
    expect(env.agents.calls.find((c) => c.verb === 'stopVm')?.args).toEqual([vm.metadata.uid, { timeoutSeconds: 7 }]);
    expect(vmStatus()).toMatchObject({ phase: 'Stopped', lastStopReason: 'Halted', host });
    expect(cond(vmStatus(), 'Ready')).toMatchObject({ status: 'True', reason: 'Halted' });
    env.client.update(Resources.VirtualMachine, NS, 'vm', (o) => {
      (o.spec as { runStrategy: string }).runStrategy = 'Always';
    });
    await reconcileVm();
    expect(vmStatus()).toMatchObject({ phase: 'Running', host });
  });

  it('a spec change that needs a restart sets RestartRequired and never touches spec', async () => {
    env = await startEnv();
    await runningVm();
    env.client.update(Resources.VirtualMachine, NS, 'vm', (o) => {
      (o.spec as { memory: string }).memory = '2Gi';
    });
    await reconcileVm();
    expect(cond(vmStatus(), 'RestartRequired')).toMatchObject({ status: 'True', reason: 'SpecChanged' });
    expect((env.client.peek(Resources.VirtualMachine, NS, 'vm')!.spec as { memory: string }).memory).toBe('2Gi');
    expect(env.agents.verbs().filter((v) => v.endsWith('defineVm'))).toHaveLength(1);
    // a change that doesn't touch the machine asks for nothing
    env.client.update(Resources.VirtualMachine, NS, 'vm', (o) => {
      (o.spec as { memory: string }).memory = '1Gi';
      (o.spec as { diskDeletionPolicy: string }).diskDeletionPolicy = 'Delete';
    });
    await reconcileVm();
    expect(cond(vmStatus(), 'RestartRequired')).toMatchObject({ status: 'False' });
  });

  it('a host that stops answering makes the VM Unknown, and nothing is started elsewhere', async () => {
    env = await startEnv();
    await runningVm();
    const host = vmStatus().host!;
    env.agents.setState(`${NS}/${host}`, 'Unreachable', 'connect ETIMEDOUT');
    const before = env.agents.calls.length;
    await reconcileVm();
    expect(vmStatus()).toMatchObject({ phase: 'Unknown', host });
    expect(env.agents.calls.slice(before)).toEqual([]);
  });
});

describe('deletion', () => {
  it.each([
    ['Retain', 0],
    ['Delete', 1],
  ])('stops and undefines the domain; diskDeletionPolicy %s deletes %i volume(s)', async (policy, deleted) => {
    env = await startEnv();
    const vm = await runningVm({ diskDeletionPolicy: policy });
    const host = vmStatus().host!;
    for (const h of ['h1', 'h2']) env.agents.agent(`${NS}/${h}`).storage.set('data', { name: 'data', connected: true });
    env.agents.sync(`${NS}/h1`);
    env.agents.sync(`${NS}/h2`);
    env.client.delete(Resources.VirtualMachine, NS, 'vm');
    // first pass: the domain goes; the disks wait for a fresh look that nothing runs from them
    expect(await reconcileVm()).toEqual({ requeueAfter: expect.any(Number) });
    expect(env.agents.calls.filter((c) => c.verb === 'deleteVolume')).toHaveLength(0);
    await reconcileVm();
    expect(env.agents.verbs()).toEqual(expect.arrayContaining([`${NS}/${host} stopVm`, `${NS}/${host} undefineVm`]));
    expect(env.agents.agent(`${NS}/${host}`).vms.has(vm.metadata.uid!)).toBe(false);
    expect(env.agents.calls.filter((c) => c.verb === 'deleteVolume')).toHaveLength(deleted);
    expect(env.client.peek(Resources.VirtualMachine, NS, 'vm')).toBeUndefined();
  });

  it('waits while the host cannot confirm the domain is gone', async () => {
    env = await startEnv();
    await runningVm();
    env.agents.setState(`${NS}/${vmStatus().host!}`, 'Unreachable', 'no route');
    env.client.delete(Resources.VirtualMachine, NS, 'vm');
    const r = await reconcileVm();
    expect(r).toEqual({ requeueAfter: expect.any(Number) });
    expect(env.client.peek(Resources.VirtualMachine, NS, 'vm')?.metadata.finalizers).toEqual([FINALIZER]);
  });
});

describe('never twice', () => {
  it('does not start a VM while a host of its last migration cannot list its domains', async () => {
    env = await startEnv();
    const vm = await runningVm();
    const source = vmStatus().host!;
    const target = source === 'h1' ? 'h2' : 'h1';
    // A finished migration moved it to the target, whose link is down right now.
    await env.client.create(Resources.VirtualMachineMigration, migrationObj('mig', NS, 'vm', []));
    env.client.setStatus(Resources.VirtualMachineMigration, NS, 'mig', { phase: 'Succeeded', sourceHost: source, targetHost: target });
    env.agents.agent(`${NS}/${source}`).vms.delete(vm.metadata.uid!);
    env.agents.sync(`${NS}/${source}`);
    env.agents.setState(`${NS}/${target}`, 'Unreachable', 'connect ETIMEDOUT');
    env.agents.links.get(`${NS}/${target}`)!.vms = undefined;
    await settle();
    await waitFor(() => env.informers.migrations.list(NS).length === 1);
    const starts = env.agents.calls.filter((c) => c.verb === 'startVm').length;
    await reconcileVm();
    expect(env.agents.calls.filter((c) => c.verb === 'startVm')).toHaveLength(starts);
    expect(vmStatus()).toMatchObject({ phase: 'Unknown' });
    expect(cond(vmStatus(), 'Ready')!.message).toContain(target);
  });

  it('deleting a VM removes the domain from whichever host holds it, and only then the disks', async () => {
    env = await startEnv();
    const vm = await runningVm({ diskDeletionPolicy: 'Delete' });
    const source = vmStatus().host!;
    const target = source === 'h1' ? 'h2' : 'h1';
    // It moved (a migration the VM status has not caught up with yet).
    const src = env.agents.agent(`${NS}/${source}`);
    env.agents.agent(`${NS}/${target}`).vms.set(vm.metadata.uid!, { ...src.vms.get(vm.metadata.uid!)!, state: 'running' });
    src.vms.delete(vm.metadata.uid!);
    for (const h of ['h1', 'h2']) env.agents.agent(`${NS}/${h}`).storage.set('data', { name: 'data', connected: true });
    env.agents.sync(`${NS}/h1`);
    env.agents.sync(`${NS}/h2`);
    env.client.delete(Resources.VirtualMachine, NS, 'vm');
    await reconcileVm();
    expect(env.agents.verbs()).toEqual(expect.arrayContaining([`${NS}/${target} destroyVm`, `${NS}/${target} undefineVm`]));
    expect(env.agents.calls.filter((c) => c.verb === 'deleteVolume')).toHaveLength(0);
    await reconcileVm();
    expect(env.agents.calls.filter((c) => c.verb === 'deleteVolume')).toHaveLength(1);
    expect(env.client.peek(Resources.VirtualMachine, NS, 'vm')).toBeUndefined();
  });
});

describe('VirtualMachineMigration', () => {
  it('picks the other host, records it before asking the source, follows progress, and hands the VM over', async () => {
    env = await startEnv();
    const vm = await runningVm();
    const source = vmStatus().host!;
    const target = source === 'h1' ? 'h2' : 'h1';
    await env.client.create(Resources.VirtualMachineMigration, migrationObj('mig', NS, 'vm'));
    await settle();
    const r = await env.reconcile(migrationReconciler, `${NS}/mig`);
    await settle();
    const m = env.client.peek(Resources.VirtualMachineMigration, NS, 'mig')!.status as MigrationStatus;
    expect(m).toMatchObject({ phase: 'Running', sourceHost: source, targetHost: target });
    expect(env.agents.calls.find((c) => c.verb === 'migrateVm')?.args[1]).toMatchObject({ destinationURI: `qemu+tcp://${target}.example.com/system` });
    expect(r).toEqual({ requeueAfter: expect.any(Number) });
    await reconcileVm();
    expect(vmStatus()).toMatchObject({ phase: 'Migrating', migration: { name: 'mig', sourceHost: source, targetHost: target } });

    await env.reconcile(migrationReconciler, `${NS}/mig`);
    await settle();
    expect(env.client.peek(Resources.VirtualMachineMigration, NS, 'mig')!.status).toMatchObject({ progress: { dataTotalBytes: 1000, dataRemainingBytes: 400, iteration: 2 } });

    // the agent finishes: the domain leaves the source and runs on the target
    const src = env.agents.agent(`${NS}/${source}`);
    const dst = env.agents.agent(`${NS}/${target}`);
    dst.vms.set(vm.metadata.uid!, { ...src.vms.get(vm.metadata.uid!)!, state: 'running' });
    src.vms.delete(vm.metadata.uid!);
    src.migrations.get(vm.metadata.uid!)!.state = 'succeeded';
    await env.reconcile(migrationReconciler, `${NS}/mig`);
    await settle();
    expect(env.client.peek(Resources.VirtualMachineMigration, NS, 'mig')!.status).toMatchObject({ phase: 'Succeeded' });
    await reconcileVm();
    expect(vmStatus()).toMatchObject({ phase: 'Running', host: target });
    expect(vmStatus().migration).toBeUndefined();
  });

  it('with no connection to the source yet (a new leader\'s links forming), waits Pending without recording a decision, then starts once connected', async () => {
    env = await startEnv();
    await runningVm();
    const source = vmStatus().host!;
    await env.client.create(Resources.VirtualMachineMigration, migrationObj('mig', NS, 'vm'));
    await settle();
    env.agents.setState(`${NS}/${source}`, 'Connecting');
    const r = await env.reconcile(migrationReconciler, `${NS}/mig`);
    await settle();
    const waiting = env.client.peek(Resources.VirtualMachineMigration, NS, 'mig')!.status as MigrationStatus;
    expect(waiting.phase).toBe('Pending');
    expect(waiting.targetHost).toBeUndefined();
    expect(waiting.startTime).toBeUndefined();
    expect(waiting.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'SourceNotConnected' });
    expect(r).toEqual({ requeueAfter: expect.any(Number) });
    expect(env.agents.calls.filter((c) => c.verb === 'migrateVm')).toHaveLength(0);

    env.agents.setState(`${NS}/${source}`, 'Connected');
    await env.reconcile(migrationReconciler, `${NS}/mig`);
    await settle();
    expect((env.client.peek(Resources.VirtualMachineMigration, NS, 'mig')!.status as MigrationStatus).phase).toBe('Running');
    expect(env.agents.calls.filter((c) => c.verb === 'migrateVm')).toHaveLength(1);
  });

  it('after a restart with no job of its own on the source, asks again while the VM is still only there', async () => {
    env = await startEnv();
    await runningVm();
    const source = vmStatus().host!;
    const target = source === 'h1' ? 'h2' : 'h1';
    await env.client.create(Resources.VirtualMachineMigration, migrationObj('mig', NS, 'vm'));
    // What a killed operator left: the decision recorded, the agent never asked.
    env.client.setStatus(Resources.VirtualMachineMigration, NS, 'mig', { phase: 'Running', sourceHost: source, targetHost: target, startTime: '2025-03-01T12:00:00Z' });
    await settle();
    await waitFor(() => (env.informers.migrations.get(`${NS}/mig`)?.status as MigrationStatus | undefined)?.phase === 'Running');
    await env.reconcile(migrationReconciler, `${NS}/mig`);
    expect(env.agents.calls.filter((c) => c.verb === 'migrateVm').map((c) => [c.host, (c.args[1] as { destinationURI: string }).destinationURI])).toEqual([
      [`${NS}/${source}`, `qemu+tcp://${target}.example.com/system`],
    ]);
    expect((env.client.peek(Resources.VirtualMachineMigration, NS, 'mig')!.status as MigrationStatus).phase).toBe('Running');
  });

  it('a second migration of the same VM waits while the first one runs', async () => {
    env = await startEnv();
    await runningVm();
    for (const name of ['first', 'second']) {
      await env.client.create(Resources.VirtualMachineMigration, migrationObj(name, NS, 'vm'));
    }
    await settle();
    await waitFor(() => env.informers.migrations.list(NS).length === 2);
    await env.reconcile(migrationReconciler, `${NS}/first`);
    await settle();
    await env.reconcile(migrationReconciler, `${NS}/second`);
    await settle();
    const second = env.client.peek(Resources.VirtualMachineMigration, NS, 'second')!.status as MigrationStatus;
    expect(second.phase).toBe('Pending');
    expect(cond(second, 'Ready')).toMatchObject({ reason: 'AnotherMigrationRunning', message: expect.stringContaining('first') });
    expect(env.agents.calls.filter((c) => c.verb === 'migrateVm')).toHaveLength(1);
  });

  it('waits for a slot: at most maxOutboundPerHost from one host', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('m', NS, { migration: { maxOutboundPerHost: 1 } }));
    for (const h of ['h1', 'h2']) {
      await env.client.create(Resources.Host, hostObj(h, NS));
      env.client.setStatus(Resources.Host, NS, h, upHostStatus(16 * GiB, ['data']));
      env.agents.connect(`${NS}/${h}`);
    }
    for (const name of ['a', 'b']) {
      const created = await env.client.create(Resources.VirtualMachine, vmObj(name, NS, {}, { finalizers: [FINALIZER] }));
      env.client.setStatus(Resources.VirtualMachine, NS, name, { phase: 'Running', host: 'h1' });
      env.agents.agent(`${NS}/h1`).vms.set(created.metadata.uid!, { uid: created.metadata.uid!, name: `${NS}_${name}`, state: 'running', persistent: true, owned: true, leaseProtected: false });
      await env.client.create(Resources.VirtualMachineMigration, migrationObj(`mig-${name}`, NS, name));
    }
    await settle();
    await waitFor(() => env.informers.migrations.list(NS).length === 2);
    await env.reconcile(migrationReconciler, `${NS}/mig-a`);
    await settle();
    await env.reconcile(migrationReconciler, `${NS}/mig-b`);
    await settle();
    const b = env.client.peek(Resources.VirtualMachineMigration, NS, 'mig-b')!.status as MigrationStatus;
    expect(b.phase).toBe('Pending');
    expect(cond(b, 'Ready')).toMatchObject({ reason: 'WaitingForSlot', message: expect.stringContaining('1/1 from h1') });
    expect(env.agents.calls.filter((c) => c.verb === 'migrateVm')).toHaveLength(1);
  });

  it('fails a VM with a disk on LocalFS as NotMigratable', async () => {
    env = await startEnv();
    await twoHosts();
    await env.client.create(Resources.StorageDomain, { apiVersion: 'drover.io/v1alpha1', kind: 'StorageDomain', metadata: { name: 'data', namespace: NS }, spec: { type: 'LocalFS', local: { host: 'h1', path: '/srv' } } });
    await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, {}, { finalizers: [FINALIZER] }));
    env.client.setStatus(Resources.VirtualMachine, NS, 'vm', { phase: 'Running', host: 'h1' });
    await env.client.create(Resources.VirtualMachineMigration, migrationObj('mig', NS, 'vm'));
    await settle();
    await env.reconcile(migrationReconciler, `${NS}/mig`);
    await settle();
    const s = env.client.peek(Resources.VirtualMachineMigration, NS, 'mig')!.status as MigrationStatus;
    expect(s.phase).toBe('Failed');
    expect(cond(s, 'Ready')).toMatchObject({ reason: 'NotMigratable', message: expect.stringContaining('LocalFS') });
  });
});

describe('volume names', () => {
  it('two disks of a long-named VM never share a volume, and names stay DNS labels', async () => {
    const { volumeName } = await import('../../../src/controllers/vm/agent-spec.js');
    const vmName = 'a'.repeat(45);
    const uid = '1b64d000-d982-4e2e-9e73-06ef177f843a';
    const a = volumeName(vmName, uid, 'scratch-a');
    const b = volumeName(vmName, uid, 'scratch-b');
    expect(a).not.toBe(b);
    for (const n of [a, b]) expect(n).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(volumeName('web', uid, 'root')).toBe('web-root-1b64d000');
  });
});

describe('agent spec', () => {
  it('passes spec.cpu.model to the agent only when it is set, so VMs without one keep their spec', async () => {
    const { toAgentSpec } = await import('../../../src/controllers/vm/agent-spec.js');
    const { virtualMachineObject } = await import('../../../src/api/kinds.js');
    const uid = '1b64d000-d982-4e2e-9e73-06ef177f843a';
    const vm = (cpu: Record<string, unknown>) =>
      virtualMachineObject.parse({ apiVersion: 'drover.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: NS }, spec: { cpu, memory: '64Mi', boot: { storageDomain: 'images', kernel: 'vmlinuz' } } });
    expect(toAgentSpec(vm({ cores: 2 }), uid, 1).cpu).toEqual({ cores: 2, sockets: 1, threads: 1 });
    expect(toAgentSpec(vm({ cores: 2, model: 'EPYC' }), uid, 1).cpu).toEqual({ cores: 2, sockets: 1, threads: 1, model: 'EPYC' });
  });
});

describe('concurrent VM reconciles', () => {
  it('two VMs placed at once never both take the last room on a host (placements count before the cache shows them)', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('m', NS));
    await env.client.create(Resources.Host, hostObj('h1', NS));
    // Room for one 1Gi VM only.
    env.client.setStatus(Resources.Host, NS, 'h1', upHostStatus(1.5 * GiB, ['data']));
    env.agents.connect(`${NS}/h1`);
    for (const name of ['a', 'b']) await env.client.create(Resources.VirtualMachine, vmObj(name, NS, {}, { finalizers: [FINALIZER] }));
    await settle();
    // One reconciler (one process), two workers.
    const reconcile = virtualMachineReconciler(env.ctx);
    const rc = (name: string) => ({ key: `${NS}/${name}`, namespace: NS, name, log: env.ctx.log, signal: new AbortController().signal }) as never;
    // Neither placement reaches the cache before both VMs were scheduled.
    const release = env.client.holdStatusWrites();
    const both = Promise.all([reconcile(`${NS}/a`, rc('a')), reconcile(`${NS}/b`, rc('b'))]);
    await waitFor(() => env.client.calls.applyStatus.length === 2);
    release();
    await both;
    await settle();
    const phases = [vmStatus('a').phase, vmStatus('b').phase].sort();
    expect(phases).toEqual(['Pending', 'Running']);
    expect(env.agents.agent(`${NS}/h1`).vms.size).toBe(1);
  });

  it('starts at most hostStartConcurrency VMs on one host at once', async () => {
    env = await startEnv();
    await twoHosts();
    const names = ['v1', 'v2', 'v3', 'v4', 'v5'];
    for (const name of names) {
      await env.client.create(Resources.VirtualMachine, vmObj(name, NS, {}, { finalizers: [FINALIZER] }));
    }
    await settle();
    let inFlight = 0;
    let peak = 0;
    for (const h of ['h1', 'h2']) {
      env.agents.agent(`${NS}/${h}`).hooks.set('startVm', async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight -= 1;
      });
    }
    const reconcile = virtualMachineReconciler(env.ctx, { hostStartConcurrency: 1 });
    const rc = (name: string) => ({ key: `${NS}/${name}`, namespace: NS, name, log: env.ctx.log, signal: new AbortController().signal }) as never;
    await Promise.all(names.map((n) => reconcile(`${NS}/${n}`, rc(n))));
    await settle();
    expect(names.map((n) => vmStatus(n).phase)).toEqual(names.map(() => 'Running'));
    // Two hosts, one start each at a time.
    expect(peak).toBe(2);
  });
});
