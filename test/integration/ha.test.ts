/**
 * VM high availability on real parts: the operator process, two test hosts
 * with real libvirt/QEMU and virtlockd leases on shared storage, and the
 * test bed's fault primitives (power loss, management link cut, storage cut)
 * and fence agent. The invariant watch asks every host's libvirt and QEMU
 * processes throughout each test and must never see a VM running twice.
 *
 * Timings are short (heartbeat 1 s, NonResponsive after 5 s, lease failover
 * after 3 s, no fencing grace) so each fault resolves within seconds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cutLink, cutStorage, killHost, powerOn, powerState, restoreLink, restoreStorage } from '../../src/dev/testbed/index.js';
import { conditionOf, domstate as domstateOn, phaseOf, startE2E, waitRunning, type E2E } from '../support/e2e.js';
import { stateDir } from '../support/env.js';
import { watchInvariant, type InvariantWatch } from '../support/invariant.js';

type Obj = Record<string, any>;
let env: E2E;
let watch: InvariantWatch | undefined;

const phase = phaseOf;
const cond = conditionOf;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wait = (kind: string, name: string, predicate: (o: Obj) => boolean, timeoutMs?: number) =>
  env.waitFor(kind, name, predicate as never, timeoutMs) as Promise<Obj>;
const hostIndex = (name: string) => env.hosts.findIndex((h) => h.name === name);
/** The test bed host (netns name) behind Host `name`. */
const tbHost = (name: string) => env.hosts[hostIndex(name)]!.testbedHost.name;
const other = (name: string) => env.hosts.find((h) => h.name !== name)!.name;

const domstate = (index: number, domain: string) => domstateOn(env, index, domain);

const running = (name: string, timeoutMs?: number) => waitRunning(env, name, timeoutMs);

/** Every QEMU pid of `domain` on this machine (whichever host runs it). */
function qemuPids(domain: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', '--', `guest=${domain},`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Brings every test host back: powered on, link and storage restored, Hosts Up. */
async function healAll(): Promise<void> {
  for (const h of env.hosts) {
    const name = h.testbedHost.name;
    await restoreStorage(env.testbed, name).catch(() => undefined);
    await restoreLink(env.testbed, name).catch(() => undefined);
    if ((await powerState(env.testbed, name)) === 'off') await powerOn(env.testbed, name);
  }
  await env.waitHostsUp(120_000);
}

/** Deletes the VMs of a test and waits until they are gone. */
async function deleteVms(...names: string[]): Promise<void> {
  for (const n of names) await env.kubectl(['delete', 'virtualmachine', n, '--ignore-not-found', '--wait=false']);
  for (const n of names) {
    const deadline = Date.now() + 120_000;
    while ((await env.get('virtualmachine', n)) && Date.now() < deadline) await sleep(1000);
  }
}

beforeAll(async () => {
  env = await startE2E({
    name: 'ha',
    subnet: '10.247.97.0/24',
    hosts: 2,
    waitHostsUp: true,
    agentArgs: ['--storage-heartbeat-interval=1s'],
    managerSpec: {
      availability: {
        heartbeatIntervalSeconds: 1,
        nonResponsiveAfterSeconds: 5,
        leaseFailoverAfterSeconds: 3,
        fencingGraceSeconds: 0,
        storageHeartbeatTimeoutSeconds: 5,
        softFencingTimeoutSeconds: 5,
        pausedOnStorageErrorKillSeconds: 10,
      },
    },
    // Power management through the test bed's fence agent (kills or restarts the test host).
    operatorArgs: [`--testbed-fence-state-dir=${join(stateDir(), 'ha')}`],
    hostSpec: (index) => ({ powerManagement: { agent: 'testbed', options: { plug: `ha-${index + 1}` } } }),
  });
  await env.apply([env.storageDomain('shared')]);
  await wait('storagedomain', 'shared', (o) => phase(o) === 'Active', 60_000);
  for (const h of env.hosts) await env.kubectl(['label', 'host', h.name, `drover.test/host=${h.name}`, '--overwrite']);
});

afterEach(async () => {
  if (watch) {
    const violations = await watch.stop();
    watch = undefined;
    await healAll();
    expect(violations).toEqual([]);
  }
});

afterAll(async () => {
  await env?.stop();
});

/** An HA guest VM pinned to Host `host` by label (the pin is removed afterwards so it may fail over). */
async function haVmOn(name: string, n: number, host: string, spec: Record<string, unknown> = {}): Promise<Obj> {
  await env.apply([env.guestVm(name, n, { highAvailability: { enabled: true }, placement: { hostSelector: { matchLabels: { 'drover.test/host': host } } }, ...spec })]);
  const vm = await running(name);
  expect(vm.status.host).toBe(host);
  await env.kubectl(['patch', 'virtualmachine', name, '--type=json', '-p', '[{"op":"remove","path":"/spec/placement"}]']);
  return vm;
}

describe('VM high availability', () => {
  it('kill -9 of an HA VM\'s QEMU: it runs again, once', async () => {
    watch = watchInvariant(env.testbed);
    const vm = await haVmOn('ha-kill', 1, 'host-1');
    const domain = `${env.namespace}_ha-kill`;
    const [pid] = qemuPids(domain);
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    await wait('virtualmachine', 'ha-kill', (o) => phase(o) === 'Running' && qemuPids(domain).length === 1 && qemuPids(domain)[0] !== pid, 120_000);
    // The new QEMU starts paused (libvirt resumes it once set up): wait for it to run.
    const deadline = Date.now() + 30_000;
    while ((await domstate(hostIndex(vm.status.host), domain)) !== 'running' && Date.now() < deadline) await sleep(500);
    expect(await domstate(hostIndex(vm.status.host), domain)).toBe('running');
    await deleteVms('ha-kill');
  });

  it('a whole host killed: its HA VM runs on the other host, its non-HA VM is Failed, the host is fenced and returns', async () => {
    watch = watchInvariant(env.testbed);
    await haVmOn('ha-a', 2, 'host-1');
    // Not highly available (runStrategy Always restarts it on its own host once that host is back).
    await env.apply([env.guestVm('plain', 3, { placement: { hostSelector: { matchLabels: { 'drover.test/host': 'host-1' } } } })]);
    await running('plain');
    const killedAt = Date.now();
    await killHost(env.testbed, tbHost('host-1'));

    const moved = await wait('virtualmachine', 'ha-a', (o) => phase(o) === 'Running' && o.status.host === 'host-2', 120_000);
    const failoverMs = Date.now() - killedAt;
    expect(await domstate(hostIndex('host-2'), `${env.namespace}_ha-a`)).toBe('running');
    expect(moved.status.failover).toBeUndefined();
    const failed = await wait('virtualmachine', 'plain', (o) => phase(o) === 'Failed', 120_000);
    expect(failed.status.lastStopReason).toBe('HostFailure');
    expect(failed.status.host).toBe('host-1');
    // Never started on the other host.
    expect(await domstate(hostIndex('host-2'), `${env.namespace}_plain`)).toBe('absent');
    const host1 = await wait('host', 'host-1', (o) => o.status?.fencing?.fencedTime !== undefined, 120_000);
    expect(['Fenced', 'Idle']).toContain(host1.status.fencing.state);
    // The fence agent powered it on again: it comes back Up, and the HA VM's old definition there is removed.
    await wait('host', 'host-1', (o) => phase(o) === 'Up', 180_000);
    await wait('virtualmachine', 'ha-a', (o) => phase(o) === 'Running' && o.status.host === 'host-2', 60_000);
    const deadline = Date.now() + 60_000;
    while ((await domstate(hostIndex('host-1'), `${env.namespace}_ha-a`)) !== 'absent' && Date.now() < deadline) await sleep(1000);
    expect(await domstate(hostIndex('host-1'), `${env.namespace}_ha-a`)).toBe('absent');
    // The non-HA VM was never started elsewhere; back on its own host, runStrategy Always restarts it there.
    expect(await domstate(hostIndex('host-2'), `${env.namespace}_plain`)).toBe('absent');
    const back = await running('plain');
    expect(back.status.host).toBe('host-1');
    console.log(`host death → HA VM Running elsewhere: ${failoverMs} ms`);
    await deleteVms('ha-a', 'plain');
  });

  it('management link cut, storage kept: not started elsewhere while its lease is held (FailoverBlocked=LeaseHeld); once fencing is allowed, fenced then restarted; no duplicate after', async () => {
    watch = watchInvariant(env.testbed);
    await haVmOn('ha-part', 4, 'host-1');
    const domain = `${env.namespace}_ha-part`;
    await cutLink(env.testbed, tbHost('host-1'));
    // status.host moves to host-2 while each retry tests the lease (recorded before the start), then back.
    await wait('virtualmachine', 'ha-part', (o) => cond(o, 'FailoverBlocked')?.reason === 'LeaseHeld', 120_000);
    // Retries keep testing the lease: a refused start's QEMU may exist for a moment on host-2, never running the guest.
    expect(await domstate(hostIndex('host-2'), domain)).not.toBe('running');
    // Asked inside host-1 (its libvirt is unreachable from here while the link is cut).
    expect((await env.hostExec(hostIndex('host-1'), ['virsh', 'domstate', domain])).stdout.trim()).toBe('running');
    // The host is alive (its storage heartbeat is fresh): fencing is skipped, as oVirt's skipIfSdActive.
    const host1 = await wait('host', 'host-1', (o) => o.status?.fencing?.reason === 'StorageHeartbeatFresh', 60_000);
    expect(host1.status.storageHeartbeat).toMatchObject({ fresh: true, observedBy: 'host-2' });

    // Allow fencing a host that still renews its storage heartbeat: fenced, lease freed, restarted on host-2.
    await env.kubectl(['patch', 'manager', env.manager, '--type=merge', '-p', JSON.stringify({ spec: { availability: { skipFencingIfStorageHeartbeat: false } } })]);
    await wait('virtualmachine', 'ha-part', (o) => phase(o) === 'Running' && o.status.host === 'host-2', 180_000);
    expect(await domstate(hostIndex('host-2'), domain)).toBe('running');
    // Link back (power-on by the fence agent brought the NIC up too): host-1 Up, still one instance.
    await restoreLink(env.testbed, tbHost('host-1')).catch(() => undefined);
    await wait('host', 'host-1', (o) => phase(o) === 'Up', 180_000);
    expect(qemuPids(domain)).toHaveLength(1);
    await env.kubectl(['patch', 'manager', env.manager, '--type=merge', '-p', JSON.stringify({ spec: { availability: { skipFencingIfStorageHeartbeat: true } } })]);
    await deleteVms('ha-part');
  });

  it('storage cut on a host: its VM pauses on the I/O error, is killed after the timeout and restarts on the healthy host', async () => {
    watch = watchInvariant(env.testbed);
    await haVmOn('ha-io', 5, 'host-1', { runStrategy: 'RerunOnFailure' });
    const domain = `${env.namespace}_ha-io`;
    await cutStorage(env.testbed, tbHost('host-1'));
    // The guest rewrites a block of its data disk every second (its init), so the cut shows at once.
    await wait('virtualmachine', 'ha-io', (o) => cond(o, 'Ready')?.reason === 'PausedOnStorageError' || (phase(o) === 'Running' && o.status.host === 'host-2'), 120_000);
    const moved = await wait('virtualmachine', 'ha-io', (o) => phase(o) === 'Running' && o.status.host === 'host-2', 180_000);
    expect(moved.status.host).toBe('host-2');
    expect(await domstate(hostIndex('host-2'), domain)).toBe('running');
    await restoreStorage(env.testbed, tbHost('host-1'));
    await deleteVms('ha-io');
  });

  it('the operator killed in the middle of a failover: exactly one restart', async () => {
    watch = watchInvariant(env.testbed);
    await haVmOn('ha-op', 6, 'host-1');
    const domain = `${env.namespace}_ha-op`;
    await killHost(env.testbed, tbHost('host-1'));
    // Kill the leader as soon as the failover is under way (or the VM is already starting on host-2).
    await wait('virtualmachine', 'ha-op', (o) => o.status?.failover !== undefined || o.status?.host === 'host-2', 120_000);
    await env.restartOperator('SIGKILL');
    await wait('virtualmachine', 'ha-op', (o) => phase(o) === 'Running' && o.status.host === 'host-2', 180_000);
    const pids = qemuPids(domain);
    expect(pids).toHaveLength(1);
    await sleep(5000);
    // Still the same QEMU: nothing restarted it a second time.
    expect(qemuPids(domain)).toEqual(pids);
    await deleteVms('ha-op');
  });

  it('both hosts cut at once: no fencing storm (the operator sees it is the one cut off), and they return Up', async () => {
    watch = watchInvariant(env.testbed);
    await haVmOn('ha-both', 7, 'host-1');
    for (const h of env.hosts) await cutLink(env.testbed, h.testbedHost.name);
    for (const h of env.hosts) await wait('host', h.name, (o) => phase(o) === 'NonResponsive', 60_000);
    await sleep(8000);
    for (const h of env.hosts) {
      const o = await env.get('host', h.name);
      expect(o?.status?.fencing?.state).not.toBe('Fenced');
      expect(o?.status?.fencing?.reason).toBe('ConnectivityBroken');
      expect(await powerState(env.testbed, h.testbedHost.name)).toBe('on');
    }
    for (const h of env.hosts) await restoreLink(env.testbed, h.testbedHost.name);
    await env.waitHostsUp(120_000);
    const vm = await running('ha-both');
    expect(vm.status.host).toBe('host-1');
    await deleteVms('ha-both');
  });

  it('a guest-initiated shutdown of an HA VM is not a failure under RerunOnFailure: it stays Stopped where it was', async () => {
    watch = watchInvariant(env.testbed);
    const vm = await haVmOn('ha-off', 8, 'host-2', { runStrategy: 'RerunOnFailure' });
    const domain = `${env.namespace}_ha-off`;
    // Wait for the guest (ACPI needs acpid up), then power off from inside.
    const deadline = Date.now() + 120_000;
    while (!(await env.guestHttp(env.guestIp(8))) && Date.now() < deadline) await sleep(1000);
    await sleep(1000);
    await env.virsh(hostIndex(vm.status.host), ['shutdown', domain, '--mode', 'acpi']);
    const stopped = await wait('virtualmachine', 'ha-off', (o) => phase(o) === 'Stopped', 120_000);
    expect(stopped.status.lastStopReason).toBe('Shutdown');
    await sleep(5000);
    expect(phase(await env.get('virtualmachine', 'ha-off'))).toBe('Stopped');
    expect(qemuPids(domain)).toEqual([]);
    expect(await domstate(hostIndex('host-1'), domain)).toBe('absent');
    await deleteVms('ha-off');
  });
});
