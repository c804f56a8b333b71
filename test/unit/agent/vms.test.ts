import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DriverError } from '../../../src/hypervisor/driver.js';
import { parseDomainXml } from '../../../src/hypervisor/domainxml/index.js';
import { FakeDriver } from './support/fakes.js';
import { startAgent, type Harness } from './support/harness.js';
import { FOREIGN_UID, UID, UID2, seedStorage, vmSpec } from './support/specs.js';

let h: Harness;
beforeEach(async () => {
  h = await startAgent();
  seedStorage(h.storage);
});
afterEach(async () => {
  await h.close();
});

const mutating = () => h.driver.mutatingCalls().map((c) => c.method);
const count = (method: string) => h.driver.calls.filter((c) => c.method === method).length;

async function defineAndStart(uid = UID): Promise<void> {
  expect((await h.call('PUT', `/v1/vms/${uid}`, vmSpec(uid === UID ? {} : { name: 'other' }))).status).toBe(200);
  expect((await h.call('POST', `/v1/vms/${uid}/start`)).status).toBe(200);
}

describe('PUT /v1/vms/{uid} (define)', () => {
  it('resolves storage, builds the XML and defines the domain once; a repeat is the same answer without a libvirt call', async () => {
    const first = await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      uid: UID,
      name: 'default-web-1',
      state: 'shut off',
      owned: true,
      owner: { namespace: 'default', name: 'web-1' },
      generation: 1,
      vcpus: 2,
      memoryMiB: 512,
    });
    expect(first.body.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(mutating()).toEqual(['define']);

    const xml = String(h.driver.calls.find((c) => c.method === 'define')?.args[0]);
    const parsed = parseDomainXml(xml);
    expect(parsed.uuid).toBe(UID);
    expect(parsed.type).toBe('kvm');
    expect(parsed.disks.map((d) => d.path)).toEqual(['/srv/data/images/root.qcow2', '/srv/data/images/scratch.raw']);
    expect(parsed.disks.map((d) => d.format)).toEqual(['qcow2', 'raw']);
    expect(parsed.interfaces[0]).toMatchObject({ mac: '52:54:00:12:34:56', bridge: 'br0', name: 'eth0' });
    expect(xml).toContain('<kernel>/srv/data/boot/vmlinuz</kernel>');
    expect(xml).toContain('<initrd>/srv/data/boot/initrd.img</initrd>');

    const again = await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(mutating()).toEqual(['define']);
  });

  it('redefines when the spec changes, not when only the generation does', async () => {
    await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    const gen2 = await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ generation: 2 }));
    expect(gen2.status).toBe(200);
    expect(count('define')).toBe(1);
    const bigger = await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ generation: 3, memoryMiB: 1024 }));
    expect(bigger.status).toBe(200);
    expect(bigger.body).toMatchObject({ memoryMiB: 1024, generation: 3 });
    expect(bigger.body.specHash).not.toBe(gen2.body.specHash);
    expect(count('define')).toBe(2);
  });

  it('serialises concurrent defines of one VM: one libvirt call', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => h.call('PUT', `/v1/vms/${UID}`, vmSpec())));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(count('define')).toBe(1);
  });

  it('uses TCG on a host without KVM for acceleration auto and tcg, and refuses kvm there', async () => {
    h.driver.caps.hypervisorType = 'qemu';
    const auto = await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    expect(auto.status).toBe(200);
    expect(parseDomainXml(String(h.driver.calls.find((c) => c.method === 'define')?.args[0])).type).toBe('qemu');
    const kvm = await h.call('PUT', `/v1/vms/${UID2}`, vmSpec({ name: 'other', acceleration: 'kvm' }));
    expect(kvm.status).toBe(422);
    expect(kvm.body.error).toMatchObject({ reason: 'KvmUnavailable', field: 'acceleration', code: 422 });
    expect(count('define')).toBe(1);
  });

  it('pins TCG on a KVM host when asked', async () => {
    expect((await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ acceleration: 'tcg' }))).status).toBe(200);
    const xml = String(h.driver.calls.find((c) => c.method === 'define')?.args[0]);
    expect(parseDomainXml(xml).type).toBe('qemu');
  });

  it('writes the requested CPU model: host-model when unset, host-passthrough, or a named model in custom mode', async () => {
    const cpuXml = (uid: string) => {
      const xml = String(h.driver.calls.filter((c) => c.method === 'define').at(-1)?.args[0]);
      expect(xml).toContain(`<uuid>${uid}</uuid>`);
      return /<cpu\b[\s\S]*?<\/cpu>|<cpu\b[^>]*\/>/.exec(xml)?.[0] ?? '';
    };
    expect((await h.call('PUT', `/v1/vms/${UID}`, vmSpec())).status).toBe(200);
    expect(cpuXml(UID)).toContain('mode="host-model"');
    expect((await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ generation: 2, cpu: { cores: 2, model: 'host-passthrough' } }))).status).toBe(200);
    expect(cpuXml(UID)).toContain('mode="host-passthrough"');
    expect((await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ generation: 3, cpu: { cores: 2, model: 'EPYC' } }))).status).toBe(200);
    const custom = cpuXml(UID);
    expect(custom).toContain('mode="custom"');
    expect(custom).toMatch(/<model[^>]*>EPYC<\/model>/);
    expect(count('define')).toBe(3);
  });

  it('refuses a malformed CPU model with 400 naming the field, and defines nothing', async () => {
    const res = await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ cpu: { cores: 2, model: 'EPYC"/><evil' } }));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toContain('cpu.model');
    expect(h.driver.mutatingCalls()).toEqual([]);
  });

  it('answers 422 InvalidSpec when libvirt rejects the XML, and nothing is defined', async () => {
    h.driver.failNext.set('define', new DriverError('InvalidSpec', 'unsupported configuration: bridge br0 does not exist'));
    const res = await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 422, reason: 'InvalidSpec' });
    expect(res.body.error.message).toContain('bridge br0');
    expect(h.driver.domains.size).toBe(0);
  });

  it('refuses a name another domain already has (409 NameInUse), a rename (409), and another owner (409 OwnerMismatch)', async () => {
    const listsBefore = count('list');
    await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    const clash = await h.call('PUT', `/v1/vms/${UID2}`, vmSpec());
    expect(clash.status).toBe(409);
    expect(clash.body.error).toMatchObject({ reason: 'NameInUse', field: 'name' });
    // A foreign domain's name counts too; the check reads names only, never the full list.
    h.driver.addForeign('00000000-0000-4000-8000-00000000f00d', 'taken-by-admin');
    const foreign = await h.call('PUT', `/v1/vms/${UID2}`, vmSpec({ name: 'taken-by-admin' }));
    expect(foreign.status).toBe(409);
    expect(foreign.body.error).toMatchObject({ reason: 'NameInUse', field: 'name', message: expect.stringContaining('00000000-0000-4000-8000-00000000f00d') });
    expect(count('names')).toBe(3);
    expect(count('list')).toBe(listsBefore);
    const rename = await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ name: 'renamed' }));
    expect(rename.status).toBe(409);
    expect(rename.body.error.field).toBe('name');
    const owner = await h.call('PUT', `/v1/vms/${UID}`, vmSpec({ owner: { namespace: 'other', name: 'web-1' } }));
    expect(owner.status).toBe(409);
    expect(owner.body.error).toMatchObject({ reason: 'OwnerMismatch', field: 'owner' });
    expect(count('define')).toBe(1);
  });
});

describe('VM lifecycle verbs', () => {
  it('start, and start again: 200 both times, one libvirt start', async () => {
    await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    const first = await h.call('POST', `/v1/vms/${UID}/start`);
    expect(first.status).toBe(200);
    expect(first.body.state).toBe('running');
    const again = await h.call('POST', `/v1/vms/${UID}/start`, {});
    expect(again.body).toEqual(first.body);
    expect(count('start')).toBe(1);
  });

  it('stop shuts down gracefully (ACPI) when the guest cooperates; a repeat calls nothing', async () => {
    await defineAndStart();
    const res = await h.call('POST', `/v1/vms/${UID}/stop`, { timeoutSeconds: 5 });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('shut off');
    expect(count('shutdown')).toBe(1);
    expect(count('destroy')).toBe(0);
    const again = await h.call('POST', `/v1/vms/${UID}/stop`, { timeoutSeconds: 5 });
    expect(again.body).toEqual(res.body);
    expect(count('shutdown')).toBe(1);
  });

  it('stop powers off after the timeout when the guest ignores ACPI', async () => {
    h.driver.shutdownBehavior = 'ignore';
    await defineAndStart();
    const started = Date.now();
    const res = await h.call('POST', `/v1/vms/${UID}/stop`, { timeoutSeconds: 1 });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('shut off');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(mutating()).toEqual(['define', 'start', 'shutdown', 'destroy']);
    expect(h.logs.some((l) => l['msg'] === 'guest did not shut down in time: powered off')).toBe(true);
  });

  it('stop with timeoutSeconds 0 powers off at once, as does stopping a paused VM', async () => {
    await defineAndStart();
    await h.call('POST', `/v1/vms/${UID}/stop`, { timeoutSeconds: 0 });
    expect(mutating()).toEqual(['define', 'start', 'destroy']);
    await h.call('POST', `/v1/vms/${UID}/start`);
    await h.call('POST', `/v1/vms/${UID}/pause`);
    const res = await h.call('POST', `/v1/vms/${UID}/stop`, {});
    expect(res.body.state).toBe('shut off');
    expect(mutating().slice(-1)).toEqual(['destroy']);
    expect(count('shutdown')).toBe(0);
  });

  it('destroy, pause and resume are idempotent', async () => {
    await defineAndStart();
    const p1 = await h.call('POST', `/v1/vms/${UID}/pause`);
    const p2 = await h.call('POST', `/v1/vms/${UID}/pause`);
    expect(p1.body.state).toBe('paused');
    expect(p2.body).toEqual(p1.body);
    expect(count('suspend')).toBe(1);

    const started = await h.call('POST', `/v1/vms/${UID}/start`);
    expect(started.status).toBe(409);
    expect(started.body.error.reason).toBe('VmPaused');

    const r1 = await h.call('POST', `/v1/vms/${UID}/resume`);
    const r2 = await h.call('POST', `/v1/vms/${UID}/resume`);
    expect(r1.body.state).toBe('running');
    expect(r2.body).toEqual(r1.body);
    expect(count('resume')).toBe(1);

    const d1 = await h.call('POST', `/v1/vms/${UID}/destroy`);
    const d2 = await h.call('POST', `/v1/vms/${UID}/destroy`);
    expect(d1.body.state).toBe('shut off');
    expect(d2.body).toEqual(d1.body);
    expect(count('destroy')).toBe(1);

    const pauseOff = await h.call('POST', `/v1/vms/${UID}/pause`);
    expect(pauseOff.status).toBe(409);
    expect(pauseOff.body.error.reason).toBe('VmNotRunning');
  });

  it('DELETE refuses a running VM (409 VmRunning), undefines a stopped one, and a repeat is the same answer', async () => {
    await defineAndStart();
    const running = await h.call('DELETE', `/v1/vms/${UID}`);
    expect(running.status).toBe(409);
    expect(running.body.error.reason).toBe('VmRunning');
    expect(count('undefine')).toBe(0);
    await h.call('POST', `/v1/vms/${UID}/destroy`);
    const first = await h.call('DELETE', `/v1/vms/${UID}`);
    const again = await h.call('DELETE', `/v1/vms/${UID}`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ uid: UID, deleted: true });
    expect(again.body).toEqual(first.body);
    expect(count('undefine')).toBe(1);
    expect((await h.call('GET', `/v1/vms/${UID}`)).status).toBe(404);
  });

  it('GET /v1/vms/{uid} and GET /v1/vms report Drover VMs with state', async () => {
    await defineAndStart();
    const one = await h.call('GET', `/v1/vms/${UID}`);
    expect(one.body).toMatchObject({ uid: UID, state: 'running', owned: true });
    expect(one.body.disks).toEqual([
      { name: 'root', target: 'vda', path: '/srv/data/images/root.qcow2', readOnly: false },
      { name: 'scratch', target: 'sda', path: '/srv/data/images/scratch.raw', readOnly: false },
    ]);
    const list = await h.call('GET', '/v1/vms');
    expect(list.body.items).toHaveLength(1);
    expect((await h.call('GET', `/v1/vms/${UID2}`)).status).toBe(404);
    expect((await h.call('POST', `/v1/vms/${UID2}/start`)).body.error).toMatchObject({ code: 404, reason: 'NotFound' });
  });
});

describe('driver errors → HTTP', () => {
  const cases: [DriverError['kind'], number][] = [
    ['NotFound', 404],
    ['InvalidSpec', 422],
    ['Conflict', 409],
    ['LeaseHeld', 409],
    ['Unavailable', 503],
    ['Failed', 500],
  ];
  it.each(cases)('%s → %i, reason kept', async (kind, status) => {
    await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    h.driver.failNext.set('start', new DriverError(kind, `libvirt says ${kind}`));
    const res = await h.call('POST', `/v1/vms/${UID}/start`);
    expect(res.status).toBe(status);
    expect(res.body.error).toEqual({ code: status, reason: kind, message: `libvirt says ${kind}` });
  });

  it('an unexpected error is a 500 that reveals nothing and is logged', async () => {
    h.driver.failNext.set('list', new TypeError('secret internals at 0xdead'));
    const res = await h.call('GET', '/v1/vms');
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({ code: 500, reason: 'Internal', message: 'internal error (see the agent log)' });
    expect(h.logs.some((l) => l['msg'] === 'request failed')).toBe(true);
  });
});

describe('orphans (domains without Drover metadata)', () => {
  let o: Harness;
  beforeEach(async () => {
    await h.close();
    const driver = new FakeDriver();
    driver.addForeign(FOREIGN_UID, 'hand-made-vm', 'running');
    o = await startAgent({ driver });
    h = o;
    seedStorage(o.storage);
  });

  it('are reported at start (log line and event) and in GET /v1/vms with owned: false', async () => {
    const log = o.logs.find((l) => l['msg'] === 'orphan domain found: not created by Drover, reported and left alone');
    expect(log).toMatchObject({ uid: FOREIGN_UID, name: 'hand-made-vm', state: 'running' });
    const list = await o.call('GET', '/v1/vms');
    expect(list.body.items).toEqual([
      expect.objectContaining({ uid: FOREIGN_UID, name: 'hand-made-vm', owned: false, state: 'running' }),
    ]);
    expect(list.body.items[0].owner).toBeUndefined();
  });

  it('are never touched: every verb answers 403 NotOwned and nothing is called', async () => {
    const verbs: [string, string, unknown][] = [
      ['PUT', `/v1/vms/${FOREIGN_UID}`, vmSpec({ name: 'hand-made-vm' })],
      ['POST', `/v1/vms/${FOREIGN_UID}/start`, {}],
      ['POST', `/v1/vms/${FOREIGN_UID}/stop`, { timeoutSeconds: 1 }],
      ['POST', `/v1/vms/${FOREIGN_UID}/destroy`, {}],
      ['POST', `/v1/vms/${FOREIGN_UID}/pause`, {}],
      ['POST', `/v1/vms/${FOREIGN_UID}/resume`, {}],
      ['DELETE', `/v1/vms/${FOREIGN_UID}`, undefined],
      ['POST', `/v1/vms/${FOREIGN_UID}/migrate`, { destinationURI: 'qemu+tcp://10.0.0.2/system' }],
    ];
    for (const [method, path, body] of verbs) {
      const res = await o.call(method, path, body);
      expect([method, path, res.status]).toEqual([method, path, 403]);
      expect(res.body.error.reason).toBe('NotOwned');
      expect(res.body.error.message).toContain('not created by Drover');
    }
    expect(o.driver.mutatingCalls()).toEqual([]);
    expect(o.driver.domains.get(FOREIGN_UID)?.state).toBe('running');
  });

  it('can be read (GET) without being touched', async () => {
    const res = await o.call('GET', `/v1/vms/${FOREIGN_UID}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ owned: false, vcpus: 1, memoryMiB: 512 });
  });
});
