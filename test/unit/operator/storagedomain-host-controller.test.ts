import { afterEach, describe, expect, it } from '@jest/globals';
import type { Condition, HostStatus, StorageDomainStatus } from '../../../src/api/index.js';
import { hostReconciler } from '../../../src/controllers/host.js';
import { storageDomainReconciler, vmsUsingDomain } from '../../../src/controllers/storagedomain.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import { AgentApiError } from '../../../src/api/agent/index.js';
import { domainObj, hostObj, lagCache, managerObj, NOW, startEnv, vmObj, waitFor, type TestEnv } from '../support/operator-context.js';
import { STALE_RETRY_MS } from '../../../src/controllers/stale.js';

const NS = 'prod';

const condition = (status: unknown, type: string): Condition | undefined =>
  ((status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

let env: TestEnv;
afterEach(async () => {
  await env?.stop();
});

const lastStatus = (): unknown => env.client.calls.applyStatus[env.client.calls.applyStatus.length - 1]!.status;

describe('storageDomainReconciler', () => {
  it('adds its finalizer, then reports Unattached while no host answers', async () => {
    env = await startEnv();
    await env.client.create(Resources.StorageDomain, domainObj('data', NS));
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(env.client.calls.setFinalizers).toEqual([{ plural: 'storagedomains', namespace: NS, name: 'data', finalizers: [FINALIZER] }]);
    expect(env.client.calls.applyStatus).toEqual([]);

    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    const status = lastStatus() as StorageDomainStatus;
    expect(status.phase).toBe('Unattached');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'NoHostUp' });
  });

  it('connects on every answering host, formats once with its UID, and goes Active with capacity', async () => {
    env = await startEnv();
    await env.client.create(Resources.StorageDomain, domainObj('data', NS, 'Data', { finalizers: [FINALIZER] }));
    await env.client.create(Resources.Host, hostObj('h1', NS));
    await env.client.create(Resources.Host, hostObj('h2', NS));
    await env.client.create(Resources.Host, hostObj('h3', NS, { maintenance: true }));
    env.agents.connect(`${NS}/h1`);
    env.agents.connect(`${NS}/h2`);
    env.agents.connect(`${NS}/h3`);
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    const uid = env.client.peek(Resources.StorageDomain, NS, 'data')!.metadata.uid;
    expect(env.agents.verbs().filter((v) => v.endsWith('connectStorageDomain'))).toEqual([`${NS}/h1 connectStorageDomain`, `${NS}/h2 connectStorageDomain`]);
    expect(env.agents.calls.find((c) => c.verb === 'connectStorageDomain')!.args[1]).toEqual({ type: 'NFS', server: 'nfs.example.com', path: '/exports/data' });
    // each fake host has its own view: formatted where it was not yet
    expect(env.agents.calls.filter((c) => c.verb === 'formatStorageDomain').map((c) => c.args[1])).toEqual([
      { uuid: uid, role: 'Data' },
      { uuid: uid, role: 'Data' },
    ]);
    const status = lastStatus() as StorageDomainStatus;
    expect(status).toMatchObject({ phase: 'Active', domainUUID: uid, capacity: { total: '102400Mi', free: '61440Mi' } });
    expect(status.hosts!.map((h) => [h.name, h.connected])).toEqual([['h1', true], ['h2', true]]);
    expect(condition(status, 'LowSpace')).toMatchObject({ status: 'False' });

    // converged: a second pass calls no verb that changes anything and writes nothing
    const writes = env.client.calls.applyStatus.length;
    const verbs = env.agents.calls.length;
    await env.reconcile(storageDomainReconciler, `${NS}/data`);
    expect(env.client.calls.applyStatus).toHaveLength(writes);
    expect(env.agents.calls.slice(verbs).filter((c) => c.verb !== 'getStorageDomain')).toEqual([]);
  });

  it('stays Activating with the reason per host when a host cannot connect', async () => {
    env = await startEnv();
    await env.client.create(Resources.StorageDomain, domainObj('data', NS, 'Data', { finalizers: [FINALIZER] }));
    await env.client.create(Resources.Host, hostObj('h1', NS));
    env.agents.connect(`${NS}/h1`);
    env.agents.agent(`${NS}/h1`).failures.set('connectStorageDomain', new AgentApiError(400, 'FileNotFound', 'path /exports/data does not exist'));
    const result = await env.reconcile(storageDomainReconciler, `${NS}/data`);
    const status = lastStatus() as StorageDomainStatus;
    expect(status.phase).toBe('Activating');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'ActivationFailed', message: 'could not connect: h1: path /exports/data does not exist' });
    expect(status.hosts).toEqual([{ name: 'h1', connected: false, message: 'path /exports/data does not exist' }]);
    expect(result).toEqual({ requeueAfter: expect.any(Number) });
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
  it('is Installing while the agent never answered, links the agent with the Manager heartbeat, then Up with capabilities', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('m', NS, { availability: { heartbeatIntervalSeconds: 2 } }));
    await env.client.create(Resources.Host, hostObj('h1', NS, {}, { finalizers: [FINALIZER], creationTimestamp: NOW.toISOString() }));
    env.agents.setState(`${NS}/h1`, 'Unreachable', 'connect ECONNREFUSED');
    const r = await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(env.agents.targets.get(`${NS}/h1`)).toEqual({ namespace: NS, name: 'h1', address: 'h1.example.com', port: 54321, heartbeatIntervalMs: 2000 });
    let status = lastStatus() as HostStatus;
    expect(status.phase).toBe('Installing');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForAgent' });
    expect(condition(status, 'Ready')!.message).toContain('h1.example.com:54321');
    expect(r).toEqual({ requeueAfter: expect.any(Number) });

    env.agents.connect(`${NS}/h1`, 8 * 2 ** 30, 4);
    await env.reconcile(hostReconciler, `${NS}/h1`);
    status = lastStatus() as HostStatus;
    expect(status).toMatchObject({ phase: 'Up', lastHeartbeatTime: '2025-03-01T12:00:00Z', agentBootId: 'boot1' });
    expect(status.capabilities).toMatchObject({ memoryBytes: 8 * 2 ** 30, hypervisorType: 'qemu', cpu: { cores: 4 } });
    expect(status.usage).toEqual({ cpuPercent: 3, memoryFreeBytes: 4 * 2 ** 30, load1: 0.1, runningVMs: 0 });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Up' });
    expect(env.recorder.events.map((e) => e.reason)).toEqual(['Installing', 'Up']);
  });

  it('keeps its phase through a short outage, then is NonResponsive with the reason', async () => {
    env = await startEnv();
    await env.client.create(Resources.Manager, managerObj('m', NS, { availability: { nonResponsiveAfterSeconds: 30 } }));
    await env.client.create(Resources.Host, hostObj('h1', NS, {}, { finalizers: [FINALIZER] }));
    env.agents.connect(`${NS}/h1`, 8 * 2 ** 30, 4, new Date(NOW.getTime() - 10_000));
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect((lastStatus() as HostStatus).phase).toBe('Up');
    env.agents.setState(`${NS}/h1`, 'Unreachable', 'connect ETIMEDOUT');
    const r = await env.reconcile(hostReconciler, `${NS}/h1`);
    expect((lastStatus() as HostStatus).phase).toBe('Up');
    expect(r).toEqual({ requeueAfter: 20_050 });
    env.agents.connect(`${NS}/h1`, 8 * 2 ** 30, 4, new Date(NOW.getTime() - 31_000));
    env.agents.setState(`${NS}/h1`, 'Unreachable', 'connect ETIMEDOUT');
    await env.reconcile(hostReconciler, `${NS}/h1`);
    const status = lastStatus() as HostStatus;
    expect(status.phase).toBe('NonResponsive');
    expect(condition(status, 'Ready')).toMatchObject({ reason: 'HeartbeatsMissed' });
    expect(condition(status, 'Ready')!.message).toContain('ETIMEDOUT');
  });

  it('is Error when TLS with the agent fails', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, {}, { finalizers: [FINALIZER] }));
    env.agents.setState(`${NS}/h1`, 'CertificateRejected', 'unable to verify the first certificate');
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(lastStatus()).toMatchObject({ phase: 'Error' });
    expect(condition(lastStatus(), 'Ready')).toMatchObject({ reason: 'CertificateRejected', message: expect.stringContaining('unable to verify') });
  });

  it('is NonOperational while it does not reach an Active Data domain, and Up once connected', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, {}, { finalizers: [FINALIZER] }));
    await env.client.create(Resources.StorageDomain, domainObj('data', NS));
    env.client.setStatus(Resources.StorageDomain, NS, 'data', { phase: 'Active' });
    env.agents.connect(`${NS}/h1`);
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(lastStatus()).toMatchObject({ phase: 'NonOperational' });
    expect(condition(lastStatus(), 'Ready')).toMatchObject({ reason: 'StorageUnreachable', message: expect.stringContaining('data') });
    env.agents.agent(`${NS}/h1`).storage.set('data', { name: 'data', connected: true });
    env.agents.sync(`${NS}/h1`);
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(lastStatus()).toMatchObject({ phase: 'Up', storageDomains: [{ name: 'data', connected: true }] });
  });

  it('is in Maintenance when asked and no VM runs on it (stopped VMs and other hosts do not count)', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, { maintenance: true }, { finalizers: [FINALIZER] }));
    await env.client.create(Resources.VirtualMachine, vmObj('stopped', NS));
    env.client.setStatus(Resources.VirtualMachine, NS, 'stopped', { phase: 'Stopped', host: 'h1' });
    await env.client.create(Resources.VirtualMachine, vmObj('elsewhere', NS));
    env.client.setStatus(Resources.VirtualMachine, NS, 'elsewhere', { phase: 'Running', host: 'h2' });
    env.agents.connect(`${NS}/h1`);
    await env.reconcile(hostReconciler, `${NS}/h1`);
    const status = lastStatus() as HostStatus;
    expect(status.phase).toBe('Maintenance');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Maintenance' });
    expect(env.client.list(Resources.VirtualMachineMigration, NS)).resolves.toMatchObject({ items: [] });
  });

  it('drains: creates migrations (priority order), names a VM that cannot migrate, and aborts on maintenance=false', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, { maintenance: true }, { finalizers: [FINALIZER] }));
    await env.client.create(Resources.StorageDomain, { ...domainObj('local', NS), spec: { type: 'LocalFS', local: { host: 'h1', path: '/srv/local' } } });
    await env.client.create(Resources.VirtualMachine, vmObj('low', NS, { highAvailability: { priority: 10 } }));
    await env.client.create(Resources.VirtualMachine, vmObj('high', NS, { highAvailability: { priority: 90 } }));
    await env.client.create(Resources.VirtualMachine, vmObj('pinned', NS, {}, {}, 'local'));
    for (const n of ['low', 'high', 'pinned']) env.client.setStatus(Resources.VirtualMachine, NS, n, { phase: 'Running', host: 'h1' });
    env.agents.connect(`${NS}/h1`);
    await env.reconcile(hostReconciler, `${NS}/h1`);
    const status = lastStatus() as HostStatus;
    expect(status.phase).toBe('PreparingForMaintenance');
    expect(condition(status, 'Drained')).toMatchObject({ status: 'False', reason: 'VMsCannotMigrate', message: expect.stringContaining('pinned uses LocalFS storage domain local') });
    const migrations = (await env.client.list(Resources.VirtualMachineMigration, NS)).items;
    expect(migrations.map((m) => [m.metadata.name, (m.spec as { vmName: string }).vmName])).toEqual([
      ['drain-h1-g1-high', 'high'],
      ['drain-h1-g1-low', 'low'],
    ]);
    expect(env.recorder.events.filter((e) => e.reason === 'DrainMigration').map((e) => e.message)).toEqual([
      'created VirtualMachineMigration drain-h1-g1-high',
      'created VirtualMachineMigration drain-h1-g1-low',
    ]);
    // idempotent: a second pass creates nothing new
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect((await env.client.list(Resources.VirtualMachineMigration, NS)).items).toHaveLength(2);

    env.client.update(Resources.Host, NS, 'h1', (o) => {
      (o.spec as { maintenance: boolean }).maintenance = false;
    });
    await waitFor(() => (env.informers.hosts.get(`${NS}/h1`)?.spec as { maintenance: boolean }).maintenance === false);
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect((await env.client.list(Resources.VirtualMachineMigration, NS)).items).toEqual([]);
    expect(env.recorder.events.find((e) => e.reason === 'MaintenanceEnded')?.message).toBe('maintenance aborted: 2 drain migration(s) cancelled');
    expect(condition(lastStatus(), 'Drained')).toBeUndefined();
  });

  it('retries a failed drain migration, and after 3 failures names the VM as blocked', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, { maintenance: true }, { finalizers: [FINALIZER] }));
    await env.client.create(Resources.VirtualMachine, vmObj('web', NS));
    env.client.setStatus(Resources.VirtualMachine, NS, 'web', { phase: 'Running', host: 'h1' });
    env.agents.connect(`${NS}/h1`);
    const names = ['drain-h1-g1-web', 'drain-h1-g1-web-a2', 'drain-h1-g1-web-a3'];
    for (const [i, name] of names.entries()) {
      await env.reconcile(hostReconciler, `${NS}/h1`);
      await waitFor(() => env.informers.migrations.list(NS).length === i + 1);
      expect(env.informers.migrations.list(NS).map((m) => m.metadata.name).sort()).toEqual(names.slice(0, i + 1));
      env.client.setStatus(Resources.VirtualMachineMigration, NS, name, {
        phase: 'Failed',
        conditions: [{ type: 'Ready', status: 'False', reason: 'MigrationFailed', message: `attempt ${i + 1} did not converge`, lastTransitionTime: '2025-03-01T12:00:00Z' }],
      });
      await waitFor(() => (env.informers.migrations.get(`${NS}/${name}`)?.status as { phase?: string } | undefined)?.phase === 'Failed');
    }
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(env.informers.migrations.list(NS)).toHaveLength(3);
    expect(condition(lastStatus(), 'Drained')).toMatchObject({ reason: 'VMsCannotMigrate', message: expect.stringContaining('web migration failed 3 times, last (drain-h1-g1-web-a3): attempt 3 did not converge') });
  });

  it('drainPolicy Stop shuts down a VM that cannot migrate', async () => {
    env = await startEnv();
    await env.client.create(Resources.Host, hostObj('h1', NS, { maintenance: true, drainPolicy: 'Stop' }, { finalizers: [FINALIZER] }));
    await env.client.create(Resources.StorageDomain, { ...domainObj('local', NS), spec: { type: 'LocalFS', local: { host: 'h1', path: '/srv/local' } } });
    const vm = await env.client.create(Resources.VirtualMachine, vmObj('pinned', NS, {}, {}, 'local'));
    env.client.setStatus(Resources.VirtualMachine, NS, 'pinned', { phase: 'Running', host: 'h1' });
    env.agents.connect(`${NS}/h1`);
    env.agents.agent(`${NS}/h1`).vms.set(vm.metadata.uid!, { uid: vm.metadata.uid!, name: 'prod_pinned', state: 'running', persistent: true, owned: true, leaseProtected: false });
    env.agents.sync(`${NS}/h1`);
    await env.reconcile(hostReconciler, `${NS}/h1`);
    expect(env.agents.calls.find((c) => c.verb === 'stopVm')?.args).toEqual([vm.metadata.uid, { timeoutSeconds: 60 }]);
    expect(condition(lastStatus(), 'Drained')).toMatchObject({ reason: 'Draining' });
  });

  it('a pass over a stale cache puts no older status back: its write is refused (409), it looks again shortly, quietly, and the next pass keeps the right status', async () => {
    env = await startEnv();
    const key = `${NS}/h1`;
    // One reconciler for every pass, as the controller has (its coalescer and refusal count live across passes).
    const reconciler = hostReconciler(env.ctx);
    const controller = () => reconciler;
    await env.client.create(Resources.Host, hostObj('h1', NS, {}, { finalizers: [FINALIZER], creationTimestamp: NOW.toISOString() }));
    await waitFor(() => env.informers.hosts.get(key) !== undefined);
    // What a lagging cache will still show later: no maintenance asked, no status yet.
    const stale = env.informers.hosts.get(key)!;
    env.agents.connect(key);
    await env.reconcile(controller, key);
    expect((lastStatus() as HostStatus).phase).toBe('Up');
    env.client.update(Resources.Host, NS, 'h1', (o) => {
      (o.spec as { maintenance: boolean }).maintenance = true;
    });
    await waitFor(() => (env.informers.hosts.get(key)?.spec as { maintenance?: boolean }).maintenance === true);
    await env.reconcile(controller, key);
    expect(env.client.peek(Resources.Host, NS, 'h1')?.status).toMatchObject({ phase: 'Maintenance' });
    const writes = env.client.calls.applyStatus.length;
    const events = env.recorder.events.length;

    // The cache falls behind: the pass computes Up from the old spec, and would put it back over Maintenance.
    const restore = lagCache(env.informers.hosts, key, stale);
    await expect(env.reconcile(controller, key)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
    // Refused while the cache stays behind, each time a little later: never a loop of refused writes.
    await expect(env.reconcile(controller, key)).resolves.toEqual({ requeueAfter: 2 * STALE_RETRY_MS });
    expect(env.client.peek(Resources.Host, NS, 'h1')?.status).toMatchObject({ phase: 'Maintenance' });
    expect(env.recorder.events).toHaveLength(events);

    // Caught up: the status stands (no write, refused or other, got through since), and the next refusal starts from the short delay again.
    restore();
    await env.reconcile(controller, key);
    expect(env.client.calls.applyStatus).toHaveLength(writes);
    expect(env.client.peek(Resources.Host, NS, 'h1')?.status).toMatchObject({ phase: 'Maintenance' });
    expect(condition(env.client.peek(Resources.Host, NS, 'h1')?.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Maintenance' });
    lagCache(env.informers.hosts, key, stale);
    await expect(env.reconcile(controller, key)).resolves.toEqual({ requeueAfter: STALE_RETRY_MS });
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
