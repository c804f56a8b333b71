import { afterEach, describe, expect, it } from '@jest/globals';
import { AgentApiError } from '../../../src/api/agent/index.js';
import type { Condition, HostStatus, VirtualMachineStatus } from '../../../src/api/index.js';
import { hostReconciler } from '../../../src/controllers/host.js';
import { virtualMachineReconciler } from '../../../src/controllers/virtualmachine.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import { hostObj, managerObj, NOW, reconcileSettled, settle as settleEnv, startEnv, upHostStatus, vmObj, type TestEnv } from '../support/operator-context.js';

const GiB = 1024 ** 3;
const NS = 'prod';
let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

const cond = (s: unknown, type: string): Condition | undefined => ((s as { conditions?: Condition[] }).conditions ?? []).find((c) => c.type === type);
const vmStatus = (name = 'vm') => (env.client.peek(Resources.VirtualMachine, NS, name)?.status ?? {}) as VirtualMachineStatus;
const hostStatus = (name: string) => (env.client.peek(Resources.Host, NS, name)?.status ?? {}) as HostStatus;

const settle = () => settleEnv(env);
const reconcileVm = (name = 'vm') => reconcileSettled(env, virtualMachineReconciler, `${NS}/${name}`);

const reconcileHost = (name: string) => reconcileSettled(env, hostReconciler, `${NS}/${name}`);

/** Two Up hosts with lockd, a Manager with the given availability settings, a shared Active storage domain `data`. */
async function twoHosts(availability: Record<string, unknown> = {}, hostSpec: Record<string, unknown> = {}): Promise<void> {
  await env.client.create(Resources.Manager, managerObj('m', NS, { availability }));
  await env.client.create(Resources.StorageDomain, {
    apiVersion: 'drover.io/v1alpha1',
    kind: 'StorageDomain',
    metadata: { name: 'data', namespace: NS },
    spec: { type: 'PosixFS', posix: { path: '/srv/data' } },
  });
  env.client.setStatus(Resources.StorageDomain, NS, 'data', { phase: 'Active' });
  for (const h of ['h1', 'h2']) {
    await env.client.create(Resources.Host, hostObj(h, NS, hostSpec, { finalizers: [FINALIZER], labels: h === 'h1' ? { first: 'yes' } : {} }));
    env.client.setStatus(Resources.Host, NS, h, upHostStatus(16 * GiB, ['data']));
    env.agents.connect(`${NS}/${h}`);
    env.agents.setLeases(`${NS}/${h}`, 'lockd');
  }
  await settle();
}

/** A VM running on h1 (through the reconciler). */
async function vmOnH1(spec: Record<string, unknown> = {}): Promise<string> {
  // Placed on h1 by a selector, which is then dropped so a failover may use h2.
  const vm = await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, { placement: { hostSelector: { matchLabels: { first: 'yes' } } }, ...spec }, { finalizers: [FINALIZER] }));
  await reconcileVm();
  expect(vmStatus().host).toBe('h1');
  expect(vmStatus().phase).toBe('Running');
  env.client.update(Resources.VirtualMachine, NS, 'vm', (o) => {
    delete (o.spec as { placement?: unknown }).placement;
  });
  await settle();
  return vm.metadata.uid!;
}

/** h1 stops answering: its link is silent since `secondsAgo`, and its Host phase is `phase`. */
async function h1Silent(secondsAgo: number, phase: string, extra: Partial<HostStatus> = {}): Promise<void> {
  env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - secondsAgo * 1000));
  env.client.setStatus(Resources.Host, NS, 'h1', { ...upHostStatus(16 * GiB, ['data']), phase, ...extra });
  await settle();
}

describe('VM failover with a storage lease as the proof', () => {
  it('waits leaseFailoverAfterSeconds, then restarts an HA VM on the other host', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 10 });
    const uid = await vmOnH1({ highAvailability: { enabled: true } });

    await h1Silent(4, 'Up');
    const early = (await reconcileVm()) as { requeueAfter?: number };
    expect(vmStatus().phase).toBe('Unknown');
    expect(vmStatus().host).toBe('h1');
    expect(early.requeueAfter).toBeGreaterThan(0);
    expect(env.agents.agent(`${NS}/h2`).vms.has(uid)).toBe(false);

    await h1Silent(11, 'Up');
    await reconcileVm();
    expect(vmStatus().phase).toBe('Running');
    expect(vmStatus().host).toBe('h2');
    expect(vmStatus().failover).toBeUndefined();
    expect(env.agents.agent(`${NS}/h2`).vms.get(uid)?.state).toBe('running');
    expect(env.recorder.events.map((e) => e.reason)).toContain('FailedOver');
  });

  it('LeaseHeld: the old instance still runs, so nothing is left on the target and FailoverBlocked says why', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 10 });
    const uid = await vmOnH1({ highAvailability: { enabled: true } });
    await h1Silent(30, 'NonResponsive');
    env.agents.agent(`${NS}/h2`).failures.set('startVm', new AgentApiError(409, 'LeaseHeld', 'resource busy: lease held by another host'));
    const r = (await reconcileVm()) as { requeueAfter?: number };
    expect(vmStatus().phase).toBe('Unknown');
    expect(vmStatus().host).toBe('h1');
    expect(cond(vmStatus(), 'FailoverBlocked')).toMatchObject({ status: 'True', reason: 'LeaseHeld' });
    expect(env.agents.agent(`${NS}/h2`).vms.has(uid)).toBe(false);
    expect(env.agents.verbs()).toContain(`${NS}/h2 undefineVm`);
    expect(r.requeueAfter).toBeGreaterThan(0);

    // The next try, once the lease is free, succeeds.
    await reconcileVm();
    expect(vmStatus().host).toBe('h2');
    expect(vmStatus().phase).toBe('Running');
    expect(cond(vmStatus(), 'FailoverBlocked')).toBeUndefined();
  });

  it('after a LeaseHeld refusal the lease is tested again only after a pause, but a fence of the old host is acted on at once', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 10 });
    const uid = await vmOnH1({ highAvailability: { enabled: true } });
    await h1Silent(30, 'NonResponsive');
    // One reconciler throughout: the pause after a refusal lives in it.
    const reconciler = virtualMachineReconciler(env.ctx);
    const pass = async (): Promise<{ requeueAfter?: number }> => {
      await settle();
      const rc = { key: `${NS}/vm`, namespace: NS, name: 'vm', log: env.ctx.log, signal: new AbortController().signal } as Parameters<typeof reconciler>[1];
      const r = (await reconciler(`${NS}/vm`, rc)) as { requeueAfter?: number } | undefined;
      await settle();
      return r ?? {};
    };
    env.agents.agent(`${NS}/h2`).failures.set('startVm', new AgentApiError(409, 'LeaseHeld', 'resource busy: lease held by another host'));
    await pass();
    expect(cond(vmStatus(), 'FailoverBlocked')).toMatchObject({ reason: 'LeaseHeld' });
    const starts = () => env.agents.verbs().filter((v) => v === `${NS}/h2 startVm`).length;
    expect(starts()).toBe(1);
    // Right after the refusal: the lease is not tested again yet.
    const paused = await pass();
    expect(starts()).toBe(1);
    expect(paused.requeueAfter).toBeGreaterThan(0);
    // The old host is fenced meanwhile: that is proof enough, no waiting for the lease's next test.
    await h1Silent(30, 'NonResponsive', { fencing: { state: 'Fenced', reason: 'PoweredOff', fencedTime: '2025-03-01T12:00:00Z' } });
    await pass();
    expect(starts()).toBe(2);
    expect(vmStatus().host).toBe('h2');
    expect(vmStatus().phase).toBe('Running');
    expect(env.agents.agent(`${NS}/h2`).vms.get(uid)?.state).toBe('running');
  });

  it('a non-HA VM is not restarted elsewhere; it stays Unknown until its host is fenced, then Failed', async () => {
    env = await startEnv();
    await twoHosts();
    const uid = await vmOnH1();
    await h1Silent(120, 'NonResponsive');
    await reconcileVm();
    expect(vmStatus().phase).toBe('Unknown');
    await h1Silent(120, 'NonResponsive', { fencing: { state: 'Fenced', fencedTime: '2025-03-01T11:59:00Z' } });
    await reconcileVm();
    expect(vmStatus().phase).toBe('Failed');
    expect(vmStatus().lastStopReason).toBe('HostFailure');
    expect(env.agents.agent(`${NS}/h2`).vms.has(uid)).toBe(false);
  });

  it('without storage leases (no lock manager on the host) an HA VM waits for fencing, and says FencingFailed when fencing cannot happen', async () => {
    env = await startEnv();
    await twoHosts();
    env.agents.setLeases(`${NS}/h1`, 'none');
    const uid = await vmOnH1({ highAvailability: { enabled: true } });
    await h1Silent(120, 'NonResponsive', { fencing: { state: 'Skipped', reason: 'NoPowerManagement', message: 'no power management' } });
    await reconcileVm();
    expect(vmStatus().phase).toBe('Unknown');
    expect(cond(vmStatus(), 'FailoverBlocked')).toMatchObject({ status: 'True', reason: 'FencingFailed' });
    expect(env.agents.agent(`${NS}/h2`).vms.has(uid)).toBe(false);

    await h1Silent(120, 'NonResponsive', { fencing: { state: 'Fenced', fencedTime: '2025-03-01T11:59:00Z' } });
    await reconcileVm();
    expect(vmStatus().host).toBe('h2');
    expect(vmStatus().phase).toBe('Running');
  });

  it('NoCapacity when no other host has room', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 1 });
    env.client.setStatus(Resources.Host, NS, 'h2', upHostStatus(512 * 1024 ** 2, ['data']));
    await settle();
    await vmOnH1({ highAvailability: { enabled: true } });
    await h1Silent(30, 'NonResponsive');
    await reconcileVm();
    expect(cond(vmStatus(), 'FailoverBlocked')).toMatchObject({ status: 'True', reason: 'NoCapacity' });
    expect(vmStatus().host).toBe('h1');
  });

  it('StorageUnreachable when the other hosts do not reach the VM storage', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 1 });
    env.client.setStatus(Resources.Host, NS, 'h2', upHostStatus(16 * GiB, []));
    await settle();
    await vmOnH1({ highAvailability: { enabled: true } });
    await h1Silent(30, 'NonResponsive');
    await reconcileVm();
    expect(cond(vmStatus(), 'FailoverBlocked')).toMatchObject({ status: 'True', reason: 'StorageUnreachable' });
  });

  it('an attempt recorded in status.failover is resumed by a new operator (the target is reused, started once)', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 1 });
    const uid = await vmOnH1({ highAvailability: { enabled: true } });
    await h1Silent(30, 'NonResponsive');
    // As a crashed operator left it: placement moved to h2, failover recorded, nothing on h2 yet.
    env.client.setStatus(Resources.VirtualMachine, NS, 'vm', {
      ...vmStatus(),
      host: 'h2',
      phase: 'Starting',
      failover: { fromHost: 'h1', toHost: 'h2', startTime: '2025-03-01T11:59:50Z', attempts: 1, proof: 'LeaseFree' },
    });
    await reconcileVm();
    expect(vmStatus().phase).toBe('Running');
    expect(vmStatus().host).toBe('h2');
    expect(env.agents.calls.filter((c) => c.verb === 'startVm' && c.host === `${NS}/h2`)).toHaveLength(1);
    expect(env.agents.agent(`${NS}/h2`).vms.get(uid)?.state).toBe('running');
  });

  it('restarts HA VMs in priority order: a lower-priority VM waits while a higher one is still to be restarted', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 1 });
    await vmOnH1({ highAvailability: { enabled: true, priority: 10 } });
    await env.client.create(Resources.VirtualMachine, {
      ...vmObj('important', NS, { highAvailability: { enabled: true, priority: 90 } }, { finalizers: [FINALIZER] }),
    });
    env.client.setStatus(Resources.VirtualMachine, NS, 'important', { phase: 'Unknown', host: 'h1' });
    await h1Silent(30, 'NonResponsive');
    await reconcileVm('vm');
    expect(vmStatus('vm').host).toBe('h1');
    expect(vmStatus('vm').phase).toBe('Unknown');
    expect(cond(vmStatus('vm'), 'Ready')?.message).toContain('important');
  });

  it('when the failed host returns with the old definition shut off, it is removed there and the VM stays on its new host', async () => {
    env = await startEnv();
    await twoHosts({ leaseFailoverAfterSeconds: 1 });
    const uid = await vmOnH1({ highAvailability: { enabled: true } });
    const oldDomain = env.agents.agent(`${NS}/h1`).vms.get(uid)!;
    await h1Silent(30, 'NonResponsive');
    await reconcileVm();
    expect(vmStatus().host).toBe('h2');
    // h1 is powered on again: libvirt still has the (persistent) definition, shut off.
    env.agents.agent(`${NS}/h1`).vms.set(uid, { ...oldDomain, state: 'shut off', reason: 'crashed' });
    env.agents.connect(`${NS}/h1`);
    env.client.setStatus(Resources.Host, NS, 'h1', upHostStatus(16 * GiB, ['data']));
    await reconcileVm();
    expect(vmStatus().host).toBe('h2');
    expect(vmStatus().phase).toBe('Running');
    expect(env.agents.agent(`${NS}/h1`).vms.has(uid)).toBe(false);
    expect(env.recorder.events.map((e) => e.reason)).toContain('StaleDefinitionRemoved');
  });
});

describe('VM paused on a storage error', () => {
  it('is powered off after pausedOnStorageErrorKillSeconds and counted as a failure', async () => {
    env = await startEnv();
    await twoHosts({ pausedOnStorageErrorKillSeconds: 80 });
    const uid = await vmOnH1({ runStrategy: 'RerunOnFailure' });
    const agent = env.agents.agent(`${NS}/h1`);
    agent.vms.set(uid, { ...agent.vms.get(uid)!, state: 'paused', reason: 'ioerror' });
    env.agents.sync(`${NS}/h1`);
    const r = (await reconcileVm()) as { requeueAfter?: number };
    expect(vmStatus().phase).toBe('Paused');
    expect(cond(vmStatus(), 'Ready')?.reason).toBe('PausedOnStorageError');
    expect(vmStatus().pausedOnStorageErrorSince).toBe('2025-03-01T12:00:00Z');
    expect(r.requeueAfter).toBeGreaterThan(79_000);
    expect(env.agents.verbs()).not.toContain(`${NS}/h1 destroyVm`);

    env.client.setStatus(Resources.VirtualMachine, NS, 'vm', { ...vmStatus(), pausedOnStorageErrorSince: '2025-03-01T11:58:00Z' });
    await reconcileVm();
    expect(env.agents.verbs()).toContain(`${NS}/h1 destroyVm`);
    expect(vmStatus().phase).toBe('Failed');
    expect(vmStatus().lastStopReason).toBe('Failed');
    expect(vmStatus().pausedOnStorageErrorSince).toBeUndefined();
  });
});

describe('Host fencing', () => {
  const pm = { powerManagement: { agent: 'testbed' } };

  it('power-fences a NonResponsive host with power management (off, confirmed: Fenced; then on) and records Fenced', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    const r = (await reconcileHost('h1')) as { requeueAfter?: number };
    expect(hostStatus('h1').phase).toBe('NonResponsive');
    // Confirmed off is written before the power-on, which is the next pass.
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced', reason: 'PowerOnPending', attempts: 1, fencedTime: '2025-03-01T12:00:00Z' });
    expect(env.fencing.calls.map((c) => `${c.host} ${c.action}`)).toEqual(['h1 off', 'h1 status']);
    expect(r.requeueAfter).toBeLessThanOrEqual(2_000);
    expect(env.recorder.events.map((e) => e.reason)).toContain('Fenced');

    await reconcileHost('h1');
    expect(env.fencing.calls.map((c) => `${c.host} ${c.action}`)).toEqual(['h1 off', 'h1 status', 'h1 on']);
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced', reason: 'PoweredOn', attempts: 1, fencedTime: '2025-03-01T12:00:00Z' });
    expect(hostStatus('h1').fencing?.message).toMatch(/powered off \(confirmed\), then on again/);
    expect(env.recorder.events.map((e) => e.reason)).toContain('PoweredOn');
    // Done: a further pass while it boots does nothing more.
    await reconcileHost('h1');
    expect(env.fencing.calls).toHaveLength(3);
  });

  it('an HA VM of a fenced host is restarted elsewhere before the host is powered on again', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.agents.setLeases(`${NS}/h1`, 'none');
    const uid = await vmOnH1({ highAvailability: { enabled: true } });
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced', reason: 'PowerOnPending' });
    await reconcileVm();
    expect(vmStatus().host).toBe('h2');
    expect(vmStatus().phase).toBe('Running');
    expect(env.agents.agent(`${NS}/h2`).vms.get(uid)?.state).toBe('running');
    // The power-on came after: nothing of the host could run the VM a second time meanwhile.
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['off', 'status']);
    await reconcileHost('h1');
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['off', 'status', 'on']);
  });

  it('a failed power-on leaves the host Fenced (the power-off is the proof) and says so', async () => {
    env = await startEnv();
    env.fencing.failing.add('on');
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced', reason: 'PowerOnFailed', fencedTime: '2025-03-01T12:00:00Z' });
    expect(env.recorder.events.map((e) => e.reason)).toContain('PowerOnFailed');
    await reconcileHost('h1');
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['off', 'status', 'on']);
  });

  it('an operator that stops between the power-off and the power-on: the next one powers the host on', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 300 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    env.client.setStatus(Resources.Host, NS, 'h1', { ...upHostStatus(16 * GiB, ['data']), phase: 'NonResponsive', fencing: { state: 'Fenced', reason: 'PowerOnPending', fencedTime: '2025-03-01T11:59:00Z', attempts: 1 } });
    // Within the new leader's fencing grace: powering on a host confirmed off is no fence, so it is not held back.
    await reconcileHost('h1');
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['on']);
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced', reason: 'PoweredOn', fencedTime: '2025-03-01T11:59:00Z' });
  });

  it('a Fenced status from before the power-on became a step of its own (PoweredOff) is finished: no power-on', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    env.client.setStatus(Resources.Host, NS, 'h1', { ...upHostStatus(16 * GiB, ['data']), phase: 'NonResponsive', fencing: { state: 'Fenced', reason: 'PoweredOff', message: 'powered off (confirmed); power-on failed: BMC busy', fencedTime: '2025-03-01T11:59:00Z', attempts: 1 } });
    await reconcileHost('h1');
    expect(env.fencing.calls).toEqual([]);
  });

  it('when the power-off cannot be recorded (the Host changed meanwhile), the host is powered on at once, not left off unrecorded', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    // Someone labels the Host while it is being powered off: the pass's copy is stale.
    env.fencing.onRun = (r) => {
      if (r.action === 'off') env.client.update(Resources.Host, NS, 'h1', (o) => void (o.metadata.labels = { ...o.metadata.labels, touched: 'yes' }));
    };
    await reconcileHost('h1').catch(() => undefined);
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['off', 'status', 'on']);
  });

  it('a Host put into maintenance between the power-off and the power-on is still powered on', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced', reason: 'PowerOnPending' });
    env.client.update(Resources.Host, NS, 'h1', (o) => void ((o.spec as { maintenance?: boolean }).maintenance = true));
    await reconcileHost('h1');
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['off', 'status', 'on']);
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced', reason: 'PoweredOn' });
  });

  it('a credentials Secret that is missing fails the fence with a message, not the Host reconcile', async () => {
    env = await startEnv();
    env.fencing.soft = true;
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, { powerManagement: { agent: 'testbed', credentialsSecretRef: { name: 'no-such-secret' } } });
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').phase).toBe('NonResponsive');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'SoftFencing', reason: 'SoftFencingFailed', message: expect.stringContaining('no-such-secret') });
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Failed', message: expect.stringContaining('no-such-secret') });
  });

  it('soft-fences first when the agent offers it, power-fences after softFencingTimeoutSeconds', async () => {
    env = await startEnv();
    env.fencing.soft = true;
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0, softFencingTimeoutSeconds: 30 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'SoftFencing' });
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['restart-agent']);
    await reconcileHost('h1');
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['restart-agent']);
    env.client.setStatus(Resources.Host, NS, 'h1', { ...hostStatus('h1'), fencing: { ...hostStatus('h1').fencing!, lastTransitionTime: '2025-03-01T11:59:00Z' } });
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing?.state).toBe('Fenced');
  });

  it('skips fencing while another host sees a fresh storage heartbeat (partitioned, not dead)', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0, storageHeartbeatTimeoutSeconds: 30 }, pm);
    env.agents.agent(`${NS}/h2`).heartbeats.set('data', [{ host: 'h1', ageSeconds: 2 }, { host: 'h2', ageSeconds: 1 }]);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').storageHeartbeat).toMatchObject({ fresh: true, observedBy: 'h2', ageSeconds: 2 });
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Skipped', reason: 'StorageHeartbeatFresh' });
    expect(env.fencing.calls).toEqual([]);
  });

  it('a fresh heartbeat seen moments ago still stands when no peer can be asked this pass (its own heartbeat late): not fenced', async () => {
    env = await startEnv();
    // Peers are asked when their own last heartbeat is under 2 intervals (2 s) old, silent past half NonResponsive (5 s).
    await twoHosts({ heartbeatIntervalSeconds: 1, nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0, storageHeartbeatTimeoutSeconds: 30 }, pm);
    env.agents.agent(`${NS}/h2`).heartbeats.set('data', [{ host: 'h1', ageSeconds: 2 }]);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Skipped', reason: 'StorageHeartbeatFresh' });
    // h2 answered its own heartbeat 3 s ago (more than two 1 s intervals, less than half NonResponsive): not asked this pass.
    env.agents.links.get(`${NS}/h2`)!.lastHeartbeat = new Date(NOW.getTime() + 2_000);
    env.ctx.now = () => new Date(NOW.getTime() + 5_000);
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Skipped', reason: 'StorageHeartbeatFresh' });
    expect(env.fencing.calls).toEqual([]);
    // Past the heartbeat timeout with still nobody to ask, the old view no longer counts: fenced.
    env.ctx.now = () => new Date(NOW.getTime() + 31_000);
    env.agents.links.get(`${NS}/h2`)!.lastHeartbeat = new Date(NOW.getTime() + 28_000);
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Fenced' });
  });

  it('fences despite a fresh storage heartbeat when skipFencingIfStorageHeartbeat is false', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0, skipFencingIfStorageHeartbeat: false }, pm);
    env.agents.agent(`${NS}/h2`).heartbeats.set('data', [{ host: 'h1', ageSeconds: 2 }]);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing?.state).toBe('Fenced');
  });

  it('skips fencing when more than the configured share of hosts is silent (the operator is cut off)', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.client.setStatus(Resources.Host, NS, 'h2', { ...upHostStatus(16 * GiB, ['data']), phase: 'NonResponsive' });
    env.agents.silence(`${NS}/h2`, new Date(NOW.getTime() - 60_000));
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Skipped', reason: 'ConnectivityBroken' });
    expect(env.fencing.calls).toEqual([]);
  });

  it('a new leader whose link to a host is still forming does not take the old leader\'s heartbeat time for silence (even with no fencing grace)', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    // Leader since a moment ago; h2 last answered the old leader 20 s ago, and the new link has not tried yet.
    env.ctx.leaderSince = new Date(NOW.getTime() - 200);
    env.agents.links.delete(`${NS}/h2`);
    env.client.setStatus(Resources.Host, NS, 'h2', { ...upHostStatus(16 * GiB, ['data']), lastHeartbeatTime: '2025-03-01T11:59:40Z' });
    const r = (await reconcileHost('h2')) as { requeueAfter?: number };
    expect(env.fencing.calls).toEqual([]);
    expect(hostStatus('h2').phase).toBe('Up');
    expect(cond(hostStatus('h2'), 'Connected')).toMatchObject({ status: 'False', reason: 'LinkForming' });
    expect(r.requeueAfter).toBeLessThanOrEqual(1_100);
    // Past the forming window with still no answer, the old heartbeat time counts: NonResponsive, and fenced.
    env.ctx.leaderSince = new Date(NOW.getTime() - 60_000);
    await reconcileHost('h2');
    expect(hostStatus('h2').phase).toBe('NonResponsive');
    expect(env.fencing.calls.map((c) => `${c.host} ${c.action}`)).toEqual(['h2 off', 'h2 status']);
  });

  it('does not fence within fencingGraceSeconds of becoming leader', async () => {
    env = await startEnv();
    env.ctx.leaderSince = new Date(NOW.getTime() - 10_000);
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 300 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    const r = (await reconcileHost('h1')) as { requeueAfter?: number };
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Skipped', reason: 'OperatorStarting' });
    expect(r.requeueAfter).toBeGreaterThan(289_000);
    expect(env.fencing.calls).toEqual([]);
  });

  it('a failed fence agent leaves the host Failed (not Fenced) and retries later', async () => {
    env = await startEnv();
    env.fencing.failing.add('off');
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    const r = (await reconcileHost('h1')) as { requeueAfter?: number };
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Failed', attempts: 1 });
    expect(r.requeueAfter).toBe(30_000);
  });

  it('a host that answers again goes back to Idle, keeping when it was last fenced', async () => {
    env = await startEnv();
    await twoHosts({ nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 }, pm);
    env.client.setStatus(Resources.Host, NS, 'h1', { ...upHostStatus(16 * GiB, ['data']), fencing: { state: 'Fenced', fencedTime: '2025-03-01T11:00:00Z' } });
    await reconcileHost('h1');
    expect(hostStatus('h1').phase).not.toBe('NonResponsive');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Idle', reason: 'HostAnswers', fencedTime: '2025-03-01T11:00:00Z' });
  });
});

describe('soft fencing that fails', () => {
  it('goes on to power fencing at once', async () => {
    env = await startEnv();
    env.fencing.soft = true;
    env.fencing.failing.add('restart-agent');
    await env.client.create(Resources.Manager, managerObj('m', NS, { availability: { nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0, softFencingTimeoutSeconds: 300 } }));
    for (const h of ['h1', 'h2']) {
      await env.client.create(Resources.Host, hostObj(h, NS, { powerManagement: { agent: 'testbed' } }, { finalizers: [FINALIZER] }));
      env.agents.connect(`${NS}/${h}`);
    }
    env.agents.silence(`${NS}/h1`, new Date(NOW.getTime() - 60_000));
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'SoftFencing', reason: 'SoftFencingFailed' });
    await reconcileHost('h1');
    expect(hostStatus('h1').fencing?.state).toBe('Fenced');
    expect(env.fencing.calls.map((c) => c.action)).toEqual(['restart-agent', 'off', 'status']);
  });
});

describe('a host that never answered', () => {
  it('is not fenced (it is still enrolling: nothing runs there)', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('m', NS, { availability: { nonResponsiveAfterSeconds: 10, fencingGraceSeconds: 0 } }));
    for (const h of ['h1', 'h2']) {
      await env.client.create(Resources.Host, hostObj(h, NS, { powerManagement: { agent: 'testbed' } }, { finalizers: [FINALIZER], creationTimestamp: '2025-03-01T11:00:00Z' }));
    }
    env.agents.connect(`${NS}/h2`);
    env.agents.setState(`${NS}/h1`, 'Unreachable', 'connect ECONNREFUSED');
    await reconcileHost('h1');
    expect(hostStatus('h1').phase).toBe('NonResponsive');
    expect(hostStatus('h1').fencing).toMatchObject({ state: 'Skipped', reason: 'NeverAnswered' });
    expect(env.fencing.calls).toEqual([]);
  });
});

describe('a VM paused on a storage error that then stops', () => {
  it('counts as failed even when the cache still shows the paused status (RerunOnFailure restarts it)', async () => {
    env = await startEnv();
    await twoHosts({ pausedOnStorageErrorKillSeconds: 80 });
    const uid = await vmOnH1({ runStrategy: 'RerunOnFailure' });
    // The status as the kill pass found it (the cache has not seen the Failed write yet)...
    env.client.setStatus(Resources.VirtualMachine, NS, 'vm', { ...vmStatus(), phase: 'Paused', pausedOnStorageErrorSince: '2025-03-01T11:58:00Z' });
    // ...and the domain as the kill left it: destroyed.
    const agent = env.agents.agent(`${NS}/h1`);
    agent.vms.set(uid, { ...agent.vms.get(uid)!, state: 'shut off', reason: 'destroyed' });
    env.agents.sync(`${NS}/h1`);
    await reconcileVm();
    expect(vmStatus().lastStopReason).toBeUndefined();
    expect(vmStatus().pausedOnStorageErrorSince).toBeUndefined();
    expect(vmStatus().phase).toBe('Running');
    expect(env.agents.verbs().filter((v) => v.endsWith('startVm'))).toHaveLength(2);
  });
});
