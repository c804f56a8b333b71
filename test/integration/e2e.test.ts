/**
 * End to end, as an admin uses it: a real kube-apiserver + etcd, the
 * operator process, two test hosts with real libvirt/QEMU whose agents
 * enrolled with bootstrap tokens, and the tiny guest. Every assertion about a
 * VM is checked on the hosts with virsh, not only in status.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { conditionOf, domstate as domstateOn, phaseOf, startE2E, waitRunning, type E2E } from '../support/e2e.js';

type Obj = Record<string, any>;
const API = 'drover.io/v1alpha1';
let env: E2E;

const phase = phaseOf;
const cond = conditionOf;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** env.waitFor with the object typed loosely (tests read arbitrary status fields). */
const wait = (kind: string, name: string, predicate: (o: Obj) => boolean, timeoutMs?: number) =>
  env.waitFor(kind, name, predicate as never, timeoutMs) as Promise<Obj>;

/** Index of the test host named `name`. */
const hostIndex = (name: string) => env.hosts.findIndex((h) => h.name === name);

const domstate = (index: number, domain: string) => domstateOn(env, index, domain);

/** Waits for the VM to be Running and returns it. */
const running = (name: string, timeoutMs?: number) => waitRunning(env, name, timeoutMs);

/** Polls `check` every 500 ms until it is true or `timeoutMs` passed. */
async function untilTrue(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check()) && Date.now() < deadline) await sleep(500);
}

/** Waits until guest `n` answers HTTP: booted, with acpid running (an ACPI button press before that is lost). */
async function guestUp(n: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await env.guestHttp(env.guestIp(n)))) {
    if (Date.now() > deadline) throw new Error(`guest ${env.guestIp(n)} did not answer within ${timeoutMs} ms`);
    await sleep(1000);
  }
  await sleep(1000);
}

/** The QEMU pid of `domain` (whichever host runs it: QEMU's -name carries the domain name). */
function qemuPid(_index: number, domain: string): number {
  const out = execFileSync('pgrep', ['-f', '--', `guest=${domain},`], { encoding: 'utf8' }).trim().split('\n');
  if (out.length !== 1 || !/^\d+$/.test(out[0]!)) throw new Error(`expected one QEMU for ${domain}, found: ${out.join(' ')}`);
  return Number(out[0]);
}

beforeAll(async () => {
  env = await startE2E({ name: 'e2e', subnet: '10.247.93.0/24', hosts: 2, waitHostsUp: true });
  await env.apply([env.storageDomain('shared')]);
  await wait('storagedomain', 'shared', (o) => phase(o) === 'Active', 60_000);
});

afterAll(async () => {
  await env?.stop();
});

describe('quickstart', () => {
  it('runs the VM on exactly one host, and the guest answers HTTP', async () => {
    await env.apply([env.guestVm('hello', 1)]);
    const vm = await running('hello');
    const domain = `${env.namespace}_hello`;
    const here = hostIndex(vm.status.host);
    expect(await domstate(here, domain)).toBe('running');
    expect(await domstate(1 - here, domain)).toBe('absent');
    expect(vm.status.domainUUID).toBe(vm.metadata.uid);
    expect(vm.status.interfaces).toEqual([expect.objectContaining({ name: 'mgmt', bridge: 'br0', macAddress: expect.stringMatching(/^52:54:00:/) })]);
    let answer: string | undefined;
    for (let i = 0; i < 60 && !answer; i++) {
      answer = await env.guestHttp(env.guestIp(1));
      if (!answer) await sleep(1000);
    }
    expect(answer).toContain('ok');
    const manager = await wait('manager', env.manager, (o) => cond(o, 'HighlyAvailable')?.status === 'True', 30_000);
    expect(manager.status.pki.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const hosts = (await env.kubectl(['get', 'hosts', '-o', 'json'])).stdout;
    for (const h of JSON.parse(hosts).items as Obj[]) {
      expect(h.status).toMatchObject({ phase: 'Up', capabilities: { hypervisorType: expect.any(String) } });
      expect(Date.now() - Date.parse(h.status.lastHeartbeatTime)).toBeLessThan(30_000);
    }
    // What Prometheus scrapes from the leader says the same.
    const metrics = await (await fetch(`http://127.0.0.1:${env.operator.healthPort}/metrics`)).text();
    const sample = (name: string, labels: string) => metrics.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)))?.split(' ').pop();
    for (const h of ['host-1', 'host-2']) {
      expect(sample('drover_host_status_phase', `name="${h}",phase="Up"`)).toBe('1');
      expect(sample('drover_host_status_phase', `name="${h}",phase="NonResponsive"`)).toBe('0');
    }
    expect(sample('drover_virtualmachine_status_phase', 'name="hello",phase="Running"')).toBe('1');
    expect(sample('drover_virtualmachine_status_phase', 'name="hello",phase="Pending"')).toBe('0');
    expect(sample('drover_host_fencing_state', 'name="host-1",state="Idle"')).toBe('1');
  });
});

describe('runStrategy', () => {
  it('Halted stops it; Always starts it again', async () => {
    const domain = `${env.namespace}_hello`;
    await env.kubectl(['patch', 'virtualmachine', 'hello', '--type=merge', '-p', '{"spec":{"runStrategy":"Halted","terminationGracePeriodSeconds":5}}']);
    const stopped = await wait('virtualmachine', 'hello', (o) => phase(o) === 'Stopped', 60_000);
    expect(await domstate(hostIndex(stopped.status.host), domain)).toBe('shut off');
    await env.kubectl(['patch', 'virtualmachine', 'hello', '--type=merge', '-p', '{"spec":{"runStrategy":"Always"}}']);
    const vm = await running('hello', 60_000);
    expect(await domstate(hostIndex(vm.status.host), domain)).toBe('running');
  });

  it('Always restarts after a guest poweroff and after kill -9 of QEMU', async () => {
    const domain = `${env.namespace}_hello`;
    let vm = await running('hello');
    const start1 = vm.status.startTime;
    await guestUp(1);
    await env.virsh(hostIndex(vm.status.host), ['shutdown', domain]);
    vm = await wait('virtualmachine', 'hello', (o) => phase(o) === 'Running' && o.status.startTime !== start1, 90_000);
    const index = hostIndex(vm.status.host);
    const pid = qemuPid(index, domain);
    process.kill(pid, 'SIGKILL');
    vm = await wait('virtualmachine', 'hello', (o) => phase(o) === 'Running' && qemuPidOrZero(index, domain) !== pid && qemuPidOrZero(index, domain) !== 0, 90_000);
    // A new QEMU starts paused ("starting up") for a moment before it runs.
    await untilTrue(async () => (await domstate(hostIndex(vm.status.host), domain)) === 'running', 30_000);
    expect(await domstate(hostIndex(vm.status.host), domain)).toBe('running');
    expect(phase(await env.get('virtualmachine', 'hello'))).toBe('Running');
  });

  it('RerunOnFailure restarts after kill -9 but not after a guest poweroff', async () => {
    const domain = `${env.namespace}_hello`;
    await env.kubectl(['patch', 'virtualmachine', 'hello', '--type=merge', '-p', '{"spec":{"runStrategy":"RerunOnFailure"}}']);
    let vm = await running('hello');
    const index = hostIndex(vm.status.host);
    const pid = qemuPid(index, domain);
    process.kill(pid, 'SIGKILL');
    vm = await wait('virtualmachine', 'hello', (o) => phase(o) === 'Running' && qemuPidOrZero(index, domain) !== pid && qemuPidOrZero(index, domain) !== 0, 90_000);
    await guestUp(1);
    await env.virsh(index, ['shutdown', domain]);
    vm = await wait('virtualmachine', 'hello', (o) => phase(o) === 'Stopped', 90_000);
    expect(vm.status.lastStopReason).toBe('Shutdown');
    await sleep(3000);
    expect(phase(await env.get('virtualmachine', 'hello'))).toBe('Stopped');
    expect(await domstate(index, domain)).toBe('shut off');
    // back to Always: it runs again
    await env.kubectl(['patch', 'virtualmachine', 'hello', '--type=merge', '-p', '{"spec":{"runStrategy":"Always"}}']);
    await running('hello', 60_000);
  });
});

function qemuPidOrZero(index: number, domain: string): number {
  try {
    return qemuPid(index, domain);
  } catch {
    return 0;
  }
}

describe('live migration', () => {
  it('moves the VM to the other host while the guest keeps answering', async () => {
    const domain = `${env.namespace}_hello`;
    const before = await running('hello');
    const source = before.status.host as string;
    // Booted first (it was just restarted): probes measure the migration, not the boot.
    await guestUp(1);
    let probes = 0;
    let failures = 0;
    let probing = true;
    const prober = (async () => {
      while (probing) {
        probes += 1;
        if (!(await env.guestHttp(env.guestIp(1)))) failures += 1;
        await sleep(50);
      }
    })();
    await env.apply([{ apiVersion: API, kind: 'VirtualMachineMigration', metadata: { name: 'move-hello', namespace: env.namespace }, spec: { vmName: 'hello' } }]);
    const m = await wait('virtualmachinemigration', 'move-hello', (o) => ['Succeeded', 'Failed'].includes(phase(o) ?? ''), 120_000);
    probing = false;
    await prober;
    expect(phase(m)).toBe('Succeeded');
    expect(m.status.sourceHost).toBe(source);
    const vm = await wait('virtualmachine', 'hello', (o) => phase(o) === 'Running' && o.status.host !== source, 60_000);
    expect(vm.status.host).toBe(m.status.targetHost);
    expect(await domstate(hostIndex(vm.status.host), domain)).toBe('running');
    expect(await domstate(hostIndex(source), domain)).toBe('absent');
    expect(probes).toBeGreaterThanOrEqual(2);
    expect(failures).toBe(0);
    // the record stays
    expect(phase(await env.get('virtualmachinemigration', 'move-hello'))).toBe('Succeeded');
  });
});

describe('host maintenance', () => {
  it('drains the host (VM migrates away), enters Maintenance, and comes back Up', async () => {
    const vm = await running('hello');
    const host = vm.status.host as string;
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":true}}']);
    await wait('host', host, (o) => phase(o) === 'Maintenance', 180_000);
    const moved = await running('hello');
    expect(moved.status.host).not.toBe(host);
    expect(await domstate(hostIndex(host), `${env.namespace}_hello`)).toBe('absent');
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":false}}']);
    await wait('host', host, (o) => phase(o) === 'Up', 60_000);
  });

  it('aborting mid-way cancels the drain and the host returns to Up with its VM still running once', async () => {
    const vm = await running('hello');
    const host = vm.status.host as string;
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":true}}']);
    await wait('host', host, (o) => phase(o) === 'PreparingForMaintenance' || phase(o) === 'Maintenance', 60_000);
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":false}}']);
    await wait('host', host, (o) => phase(o) === 'Up', 60_000);
    const after = await running('hello');
    const domain = `${env.namespace}_hello`;
    const states = [await domstate(0, domain), await domstate(1, domain)];
    expect(states.filter((s) => s === 'running')).toHaveLength(1);
    expect(await domstate(hostIndex(after.status.host), domain)).toBe('running');
    // no drain migration is left Running or Pending
    const migrations = JSON.parse((await env.kubectl(['get', 'virtualmachinemigrations', '-o', 'json'])).stdout).items as Obj[];
    expect(migrations.filter((m) => !['Succeeded', 'Failed'].includes(phase(m) ?? ''))).toEqual([]);
  });

  it('a VM that cannot migrate blocks the drain and is named', async () => {
    const vm = await running('hello');
    const host = vm.status.host as string;
    // A directory of this host's own (outside the shared storage, which the agent refuses to overlap).
    const localDir = join(env.hosts[hostIndex(host)]!.testbedHost.runDir, 'local-storage');
    await env.hostExec(hostIndex(host), ['mkdir', '-p', localDir]);
    await env.apply([
      { apiVersion: API, kind: 'StorageDomain', metadata: { name: 'local', namespace: env.namespace }, spec: { type: 'LocalFS', local: { host, path: localDir } } },
    ]);
    await wait('storagedomain', 'local', (o) => phase(o) === 'Active', 60_000);
    // Only `host` reaches the LocalFS domain, so the scheduler can only place it there.
    await env.apply([env.guestVm('pinned', 2, { disks: [{ name: 'data', storageDomain: 'local', size: '16Mi' }] })]);
    const pinned = await running('pinned');
    expect(pinned.status.host).toBe(host);
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":true}}']);
    const h = await wait('host', host, (o) => cond(o, 'Drained')?.reason === 'VMsCannotMigrate', 120_000);
    expect(phase(h)).toBe('PreparingForMaintenance');
    expect(cond(h, 'Drained')!.message).toContain('pinned');
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":false}}']);
    await wait('host', host, (o) => phase(o) === 'Up', 60_000);
    await env.kubectl(['delete', 'virtualmachine', 'pinned', '--timeout=90s']);
  });
});

describe('deletion', () => {
  it.each([
    ['Retain', true],
    ['Delete', false],
  ])('diskDeletionPolicy %s: the domain is gone from libvirt and the disk file kept=%s', async (policy, kept) => {
    const name = `del-${policy.toLowerCase()}`;
    await env.apply([env.guestVm(name, 3, { diskDeletionPolicy: policy })]);
    const vm = await running(name);
    const disk = vm.status.disks[0];
    const domain = `${env.namespace}_${name}`;
    const index = hostIndex(vm.status.host);
    const exists = () => findFile(env.sharedDir, disk.volume);
    expect(exists()).toBe(true);
    await env.kubectl(['delete', 'virtualmachine', name, '--timeout=120s']);
    expect(await domstate(index, domain)).toBe('absent');
    expect(await domstate(1 - index, domain)).toBe('absent');
    expect(Boolean(exists())).toBe(kept);
  });
});

/** True when a file named `name` (any extension) exists below `dir`. */
function findFile(dir: string, name: string): boolean {
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (entry === name || entry.startsWith(`${name}.`)) return true;
    try {
      if (statSync(p).isDirectory() && findFile(p, name)) return true;
    } catch {
      /* vanished */
    }
  }
  return false;
}

describe('CPU model', () => {
  it('a VM asking for a model no host lists stays Pending naming it; with a model the hosts list it runs with that CPU', async () => {
    for (const h of env.hosts) expect(((await env.get('host', h.name)) as Obj).status.capabilities.cpuModels).toContain('Nehalem');
    await env.apply([env.guestVm('cpu-model', 7, { cpu: { cores: 1, model: 'NoSuchCpu' } })]);
    const pending = await wait('virtualmachine', 'cpu-model', (o) => phase(o) === 'Pending' && cond(o, 'Scheduled')?.status === 'False', 60_000);
    for (const h of env.hosts) expect(cond(pending, 'Scheduled')!.message).toContain(`${h.name}: host CPU cannot give model NoSuchCpu`);
    for (const [i] of env.hosts.entries()) expect(await domstate(i, `${env.namespace}_cpu-model`)).toBe('absent');

    await env.kubectl(['patch', 'virtualmachine', 'cpu-model', '--type=merge', '-p', '{"spec":{"cpu":{"cores":1,"model":"Nehalem"}}}']);
    const vm = await running('cpu-model');
    const xml = await env.virsh(hostIndex(vm.status.host), ['dumpxml', `${env.namespace}_cpu-model`]);
    expect(/<cpu\b[^>]*mode='custom'[\s\S]*?<model\b[^>]*>([^<]+)<\/model>/.exec(xml)?.[1]).toBe('Nehalem');
    await env.kubectl(['delete', 'virtualmachine', 'cpu-model', '--timeout=120s']);
  });
});

describe('agent certificates', () => {
  it('renews an agent certificate on request: the new one is on disk and in status, the host stays Up, and a restarted agent serves it', async () => {
    const h = env.hosts[0]!;
    const before = await wait('host', h.name, (o) => Boolean(o.status?.certificate?.serial) && cond(o, 'CertificateValid')?.status === 'True', 60_000);
    const serial: string = before.status.certificate.serial;
    const pkiDir = join(h.testbedHost.runDir, 'agent', 'pki');
    // A copy of the files the renewal will replace: an old backup of the host, or a stolen key.
    for (const f of ['cert.pem', 'key.pem']) await env.hostExec(h.index, ['cp', '-p', join(pkiDir, f), join(pkiDir, `${f}.before-renewal`)]);
    await env.kubectl(['annotate', 'host', h.name, 'drover.io/renew-certificate=e2e-1', '--overwrite']);
    // Up to a minute more when the certificate is younger than that (a request is served at most once a minute).
    const after = await wait('host', h.name, (o) => o.status?.certificate?.renewalRequest === 'e2e-1', 150_000);
    const renewed: string = after.status.certificate.serial;
    expect(renewed).not.toBe(serial);
    expect(cond(after, 'CertificateValid')).toMatchObject({ status: 'True', reason: 'Valid', message: expect.stringContaining(`(renewed ${after.status.certificate.renewedTime})`) });
    expect(phase(after)).toBe('Up');
    const onDisk = new X509Certificate((await env.hostExec(h.index, ['cat', join(pkiDir, 'cert.pem')])).stdout);
    expect(onDisk.serialNumber.toLowerCase()).toBe(renewed);
    expect(onDisk.subject).toBe(`CN=${h.name}`);
    const { stdout: events } = await env.kubectl(['get', 'events', '--field-selector', `involvedObject.name=${h.name},reason=CertificateRenewed`, '-o', 'name']);
    expect(events.trim()).not.toBe('');

    // A restart starts from the renewed files (no enrollment), and the operator finds the same certificate.
    const agent = await env.startAgent(h.index);
    expect(readFileSync(agent.logFile, 'utf8')).toContain('using the enrolled certificate');
    const back = await wait('host', h.name, (o) => phase(o) === 'Up' && cond(o, 'Connected')?.status === 'True', 60_000);
    expect(back.status.certificate.serial).toBe(renewed);
    expect(Date.parse(back.status.certificate.notBefore)).toBe(Date.parse(onDisk.validFrom));

    // The renewal retired the old certificate: an agent serving it again (files restored from before) is refused.
    for (const f of ['cert.pem', 'key.pem']) {
      await env.hostExec(h.index, ['cp', '-p', join(pkiDir, f), join(pkiDir, `${f}.renewed`)]);
      await env.hostExec(h.index, ['cp', '-p', join(pkiDir, `${f}.before-renewal`), join(pkiDir, f)]);
    }
    await env.startAgent(h.index);
    const refused = await wait('host', h.name, (o) => phase(o) === 'Error', 60_000);
    expect(cond(refused, 'Ready')).toMatchObject({ reason: 'CertificateRejected', message: expect.stringContaining('retired certificate') });
    expect(refused.status.certificate.serial).toBe(renewed);
    // The renewed files back: Up again with the renewed certificate.
    for (const f of ['cert.pem', 'key.pem']) await env.hostExec(h.index, ['cp', '-p', join(pkiDir, `${f}.renewed`), join(pkiDir, f)]);
    await env.startAgent(h.index);
    const again = await wait('host', h.name, (o) => phase(o) === 'Up' && cond(o, 'Connected')?.status === 'True', 60_000);
    expect(again.status.certificate.serial).toBe(renewed);
  });
});

describe('faults', () => {
  it('a VM that fits no host stays Pending with the reason per host, and is scheduled once capacity appears', async () => {
    await env.apply([env.guestVm('huge', 4, { memory: '400Gi' })]);
    const vm = await wait('virtualmachine', 'huge', (o) => phase(o) === 'Pending' && cond(o, 'Scheduled')?.status === 'False', 60_000);
    for (const h of env.hosts) expect(cond(vm, 'Scheduled')!.message).toContain(`${h.name}: not enough free memory`);
    await env.kubectl(['patch', 'virtualmachine', 'huge', '--type=merge', '-p', '{"spec":{"memory":"128Mi"}}']);
    await running('huge');
    await env.kubectl(['delete', 'virtualmachine', 'huge', '--timeout=120s']);
  });

  it('a Host whose address answers nothing goes NonResponsive with the reason; nothing else is affected', async () => {
    await env.apply([{ apiVersion: API, kind: 'Host', metadata: { name: 'ghost', namespace: env.namespace }, spec: { address: env.guestIp(90) } }]);
    const ghost = await wait('host', 'ghost', (o) => phase(o) === 'NonResponsive', 60_000);
    expect(cond(ghost, 'Ready')!.message).toContain(env.guestIp(90));
    for (const h of env.hosts) expect(phase(await env.get('host', h.name))).toBe('Up');
    expect(phase(await env.get('virtualmachine', 'hello'))).toBe('Running');
    await env.kubectl(['delete', 'host', 'ghost', '--timeout=60s']);
  });

  it('a Host whose address answers with another host\'s certificate goes Error; nothing else is affected', async () => {
    await env.apply([{ apiVersion: API, kind: 'Host', metadata: { name: 'impostor', namespace: env.namespace }, spec: { address: env.hosts[0]!.ip } }]);
    const h = await wait('host', 'impostor', (o) => phase(o) === 'Error', 60_000);
    expect(cond(h, 'Ready')).toMatchObject({ reason: 'CertificateRejected' });
    expect(cond(h, 'Ready')!.message).toContain('another host');
    for (const host of env.hosts) expect(phase(await env.get('host', host.name))).toBe('Up');
    await env.kubectl(['delete', 'host', 'impostor', '--timeout=60s']);
  });

  it('a StorageDomain path that does not exist stays Activating with the reason per host', async () => {
    await env.apply([env.storageDomain('missing', 'no/such/dir')]);
    const sd = await wait('storagedomain', 'missing', (o) => cond(o, 'Ready')?.reason === 'ActivationFailed', 60_000);
    expect(phase(sd)).toBe('Activating');
    for (const h of env.hosts) expect(cond(sd, 'Ready')!.message).toContain(`${h.name}:`);
    await env.kubectl(['delete', 'storagedomain', 'missing', '--timeout=60s']);
  });

  it('operator killed during a create converges after restart: one domain, no duplicate', async () => {
    await env.apply([env.guestVm('crashy', 5)]);
    // Killed as soon as the VM is placed (before or while the domain is defined).
    await wait('virtualmachine', 'crashy', (o) => Boolean(o.status?.host), 60_000);
    await env.restartOperator('SIGKILL');
    const vm = await running('crashy');
    const domain = `${env.namespace}_crashy`;
    const states = [await domstate(0, domain), await domstate(1, domain)];
    expect(states.filter((s) => s !== 'absent')).toEqual(['running']);
    expect(await domstate(hostIndex(vm.status.host), domain)).toBe('running');
  });

  it('operator killed during a live migration converges: the VM runs on exactly one host', async () => {
    const domain = `${env.namespace}_crashy`;
    const before = await running('crashy');
    await env.apply([{ apiVersion: API, kind: 'VirtualMachineMigration', metadata: { name: 'move-crashy', namespace: env.namespace }, spec: { vmName: 'crashy' } }]);
    await wait('virtualmachinemigration', 'move-crashy', (o) => ['Running', 'Succeeded', 'Failed'].includes(phase(o) ?? ''), 60_000);
    await env.restartOperator('SIGKILL');
    const m = await wait('virtualmachinemigration', 'move-crashy', (o) => ['Succeeded', 'Failed'].includes(phase(o) ?? ''), 120_000);
    const vm = await running('crashy');
    const states = [await domstate(0, domain), await domstate(1, domain)];
    expect(states.filter((s) => s !== 'absent')).toEqual(['running']);
    expect(await domstate(hostIndex(vm.status.host), domain)).toBe('running');
    if (phase(m) === 'Succeeded') expect(vm.status.host).not.toBe(before.status.host);
  });

  it('operator killed during a maintenance drain converges: the host reaches Maintenance, the VM runs once elsewhere', async () => {
    const domain = `${env.namespace}_crashy`;
    const vm = await running('crashy');
    const host = vm.status.host as string;
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":true}}']);
    await wait('host', host, (o) => ['PreparingForMaintenance', 'Maintenance'].includes(phase(o) ?? ''), 60_000);
    await env.restartOperator('SIGKILL');
    await wait('host', host, (o) => phase(o) === 'Maintenance', 180_000);
    const moved = await running('crashy');
    expect(moved.status.host).not.toBe(host);
    expect(await domstate(hostIndex(host), domain)).toBe('absent');
    await env.kubectl(['patch', 'host', host, '--type=merge', '-p', '{"spec":{"maintenance":false}}']);
    await wait('host', host, (o) => phase(o) === 'Up', 60_000);
  });

  it('operator killed during a delete converges: the domain and the object are gone', async () => {
    const domain = `${env.namespace}_crashy`;
    await running('crashy');
    await env.kubectl(['delete', 'virtualmachine', 'crashy', '--wait=false']);
    await wait('virtualmachine', 'crashy', (o) => Boolean(o.metadata?.deletionTimestamp), 30_000);
    await env.restartOperator('SIGKILL');
    const deadline = Date.now() + 120_000;
    while ((await env.get('virtualmachine', 'crashy')) && Date.now() < deadline) await sleep(500);
    expect(await env.get('virtualmachine', 'crashy')).toBeUndefined();
    expect(await domstate(0, domain)).toBe('absent');
    expect(await domstate(1, domain)).toBe('absent');
  });
});
