import { afterEach, describe, expect, it } from '@jest/globals';
import { AgentApiError } from '../../../src/api/agent/index.js';
import type { VirtualMachineStatus } from '../../../src/api/index.js';
import { virtualMachineReconciler } from '../../../src/controllers/virtualmachine.js';
import { BackgroundStarts } from '../../../src/controllers/vm/start.js';
import { KeyedSemaphore } from '../../../src/runtime/keyed-semaphore.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import { hostObj, managerObj, startEnv, upHostStatus, vmObj, waitFor, type TestEnv } from '../support/operator-context.js';

const GiB = 1024 ** 3;
const NS = 'prod';
let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

const vmStatus = (name = 'vm') => (env.client.peek(Resources.VirtualMachine, NS, name)?.status ?? {}) as VirtualMachineStatus;

async function settle(): Promise<void> {
  await env.client.idle();
  await new Promise((r) => setTimeout(r, 5));
}

/** One host h1, a background-start reconciler whose wake records the keys it enqueues. */
async function setup(slots = 4, total?: number): Promise<{ reconcile: (name: string) => Promise<unknown>; woken: string[]; starts: BackgroundStarts; release: () => void }> {
  env = await startEnv();
  await env.client.create(Resources.Manager, managerObj('m', NS));
  await env.client.create(Resources.Host, hostObj('h1', NS));
  env.client.setStatus(Resources.Host, NS, 'h1', upHostStatus(16 * GiB, ['data']));
  env.agents.connect(`${NS}/h1`);
  await settle();
  const woken: string[] = [];
  const starts = new BackgroundStarts(new KeyedSemaphore(slots), true, (k) => woken.push(k), total === undefined ? undefined : new KeyedSemaphore(total));
  const reconciler = virtualMachineReconciler(env.ctx, { starts });
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  env.agents.agent(`${NS}/h1`).hooks.set('startVm', () => gate);
  const reconcile = async (name: string) => {
    await settle();
    const r = await reconciler(`${NS}/${name}`, { key: `${NS}/${name}`, namespace: NS, name, log: env.ctx.log, signal: new AbortController().signal } as never);
    await settle();
    return r;
  };
  return { reconcile, woken, starts, release: open };
}

describe('VM starts in the background (the controller wiring)', () => {
  it('returns the worker while the agent starts, then writes Running from the start answer before the link shows it', async () => {
    const { reconcile, woken, starts, release } = await setup();
    await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, {}, { finalizers: [FINALIZER] }));
    // The agent's start is held: the reconcile still returns, with the VM placed and Starting.
    await reconcile('vm');
    expect(vmStatus().phase).toBe('Starting');
    expect(vmStatus().host).toBe('h1');
    const uid = env.client.peek(Resources.VirtualMachine, NS, 'vm')!.metadata.uid!;
    expect(starts.busy(uid)).toBe(true);
    // A pass while the start is in flight changes nothing and calls no agent.
    const callsBefore = env.agents.calls.length;
    await reconcile('vm');
    expect(env.agents.calls.length).toBe(callsBefore);
    expect(vmStatus().phase).toBe('Starting');

    release();
    await waitFor(() => woken.includes(`${NS}/vm`));
    expect(starts.busy(uid)).toBe(false);
    // The link has not relisted (no sync): the start's answer is what the pass writes.
    expect(env.agents.link(`${NS}/h1`)?.vms?.find((d) => d.uid === uid)?.state).not.toBe('running');
    const r = await reconcile('vm');
    expect(vmStatus().phase).toBe('Running');
    expect(vmStatus().runningSpecHash).toEqual(expect.any(String));
    expect(vmStatus().disks?.every((d) => d.created)).toBe(true);
    expect(r).toEqual({ requeueAfter: expect.any(Number) });
    // A stale list (the domain defined, not running) is no stop while the start is unconfirmed: nothing is started twice.
    const starts1 = env.agents.verbs().filter((v) => v.endsWith('startVm')).length;
    await reconcile('vm');
    expect(vmStatus().phase).toBe('Running');
    expect(env.agents.verbs().filter((v) => v.endsWith('startVm')).length).toBe(starts1);
    expect(env.recorder.events.some((e) => e.reason === 'Crashed')).toBe(false);
  });

  it('a start\'s answer is kept until a status write carries it: the pass that read it failing to write loses nothing', async () => {
    const { reconcile, woken, release } = await setup();
    await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, {}, { finalizers: [FINALIZER] }));
    await reconcile('vm');
    expect(vmStatus().phase).toBe('Starting');
    release();
    await waitFor(() => woken.includes(`${NS}/vm`));
    // The API server refuses the next status write (a timeout, a 500): the pass fails.
    const original = env.client.applyStatus.bind(env.client);
    let refused = 0;
    env.client.applyStatus = async (...args: Parameters<typeof original>) => {
      if (refused++ === 0) throw new Error('etcdserver: request timed out');
      return original(...args);
    };
    await expect(reconcile('vm')).rejects.toThrow('request timed out');
    expect(vmStatus().phase).toBe('Starting');
    // The retry, with the link showing the domain running by now, still writes the start's answer.
    env.agents.sync(`${NS}/h1`);
    await reconcile('vm');
    expect(vmStatus().phase).toBe('Running');
    expect(vmStatus().startTime).toEqual(expect.any(String));
    expect(vmStatus().runningSpecHash).toEqual(expect.any(String));
  });

  it('a failed start is reported by the next pass like an awaited one (refusal: Failed with the reason)', async () => {
    const { reconcile, woken, release } = await setup();
    release();
    env.agents.agent(`${NS}/h1`).failures.set('defineVm', new AgentApiError(422, 'InvalidSpec', 'bad domain'));
    await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, {}, { finalizers: [FINALIZER] }));
    await reconcile('vm');
    await waitFor(() => woken.includes(`${NS}/vm`));
    const r = await reconcile('vm');
    expect(r).toEqual({ requeueAfter: 30_000 });
    expect(vmStatus().phase).toBe('Failed');
    expect(env.recorder.events.some((e) => e.reason === 'InvalidSpec' && e.type === 'Warning')).toBe(true);
  });

  it('deleting a VM whose start is in flight waits for the start, then removes the domain it defined', async () => {
    const { reconcile, woken, release } = await setup();
    await env.client.create(Resources.VirtualMachine, vmObj('vm', NS, {}, { finalizers: [FINALIZER] }));
    await reconcile('vm');
    await env.client.delete(Resources.VirtualMachine, NS, 'vm');
    await reconcile('vm');
    // Still there: the finalizer stays while the start runs.
    expect(env.client.peek(Resources.VirtualMachine, NS, 'vm')).toBeDefined();
    release();
    await waitFor(() => woken.includes(`${NS}/vm`));
    for (let i = 0; i < 5 && env.client.peek(Resources.VirtualMachine, NS, 'vm'); i++) {
      env.agents.sync(`${NS}/h1`);
      await reconcile('vm');
    }
    expect(env.client.peek(Resources.VirtualMachine, NS, 'vm')).toBeUndefined();
    expect(env.agents.agent(`${NS}/h1`).vms.size).toBe(0);
  });

  it('bounds the starts per host without holding a reconcile per waiting VM', async () => {
    const { reconcile, starts, release } = await setup(2);
    const names = ['v1', 'v2', 'v3', 'v4', 'v5'];
    for (const n of names) await env.client.create(Resources.VirtualMachine, vmObj(n, NS, {}, { finalizers: [FINALIZER] }));
    for (const n of names) await reconcile(n);
    // Every reconcile returned; five starts wait for the host, two of them at the agent.
    expect(starts.size).toBe(5);
    expect(starts.slots.usage(`${NS}/h1`)).toEqual({ active: 2, waiting: 3 });
    release();
    await waitFor(() => starts.size === 0);
    for (const n of names) await reconcile(n);
    expect(names.map((n) => vmStatus(n).phase)).toEqual(names.map(() => 'Running'));
  });

  it('bounds the starts of all hosts together (they share storage)', async () => {
    const { reconcile, starts, release } = await setup(4, 1);
    const names = ['v1', 'v2', 'v3'];
    for (const n of names) await env.client.create(Resources.VirtualMachine, vmObj(n, NS, {}, { finalizers: [FINALIZER] }));
    for (const n of names) await reconcile(n);
    await waitFor(() => starts.total?.usage('all').active === 1);
    expect(starts.total?.usage('all')).toEqual({ active: 1, waiting: 2 });
    // Only one reached the agent: the others wait in the operator, not in agent requests.
    expect(env.agents.verbs().filter((v) => v.endsWith('defineVm'))).toHaveLength(1);
    release();
    await waitFor(() => starts.size === 0);
    for (const n of names) await reconcile(n);
    expect(names.map((n) => vmStatus(n).phase)).toEqual(names.map(() => 'Running'));
  });
});
