import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DriverError } from '../../../src/hypervisor/driver.js';
import { startAgent, type Harness } from './support/harness.js';
import { UID, seedStorage, vmSpec } from './support/specs.js';

let h: Harness;
beforeEach(async () => {
  h = await startAgent({ migrationCancelWaitMs: 1000 });
  seedStorage(h.storage);
  await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
  await h.call('POST', `/v1/vms/${UID}/start`);
});
afterEach(async () => {
  await h.close();
});

const DEST = 'qemu+tcp://10.0.0.12/system';
const count = (method: string) => h.driver.calls.filter((c) => c.method === method).length;
const until = async (check: () => boolean) => {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('POST /v1/vms/{uid}/migrate', () => {
  it('starts in the background (202), reports progress, and a repeat joins the running job', async () => {
    const req = { destinationURI: DEST, bandwidthMiBps: 100, autoConverge: true, compressed: false, maxDowntimeMs: 300 };
    const started = await h.call('POST', `/v1/vms/${UID}/migrate`, req);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ uid: UID, state: 'running', destinationURI: DEST });
    // The disks are on a PosixFS domain: shared by declaration, so libvirt's shared-storage check is overridden.
    expect(h.driver.calls.find((c) => c.method === 'migrate')?.args).toEqual([UID, { ...req, unsafe: true }]);

    const progress = await h.call('GET', `/v1/vms/${UID}/migration`);
    expect(progress.status).toBe(200);
    expect(progress.body).toMatchObject({ state: 'running', jobInfo: { type: 'unbounded', dataProcessedBytes: 400, dataRemainingBytes: 600 } });

    const repeat = await h.call('POST', `/v1/vms/${UID}/migrate`, req);
    expect(repeat.status).toBe(202);
    // The same job: same start, now with the progress read meanwhile.
    expect(repeat.body).toEqual({ ...started.body, jobInfo: progress.body.jobInfo });
    expect(count('migrate')).toBe(1);
  });

  it('allows one migration per VM: another request is 409 MigrationInProgress, as are lifecycle verbs', async () => {
    await h.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: DEST });
    const other = await h.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: 'qemu+tcp://10.0.0.13/system' });
    expect(other.status).toBe(409);
    expect(other.body.error.reason).toBe('MigrationInProgress');
    for (const [method, path, body] of [
      ['POST', `/v1/vms/${UID}/stop`, {}],
      ['POST', `/v1/vms/${UID}/pause`, {}],
      ['DELETE', `/v1/vms/${UID}`, undefined],
      ['PUT', `/v1/vms/${UID}`, vmSpec({ memoryMiB: 2048 })],
    ] as const) {
      const res = await h.call(method, path, body);
      expect([path, res.status, res.body.error.reason]).toEqual([path, 409, 'MigrationInProgress']);
    }
    expect(count('migrate')).toBe(1);
    expect(count('shutdown') + count('suspend') + count('undefine')).toBe(0);
    expect(count('define')).toBe(1);
  });

  it('reports success, publishes MigrationFinished, and the VM is gone from this host', async () => {
    await h.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: DEST });
    h.driver.pendingMigrations.get(UID)?.resolve();
    await until(() => h.logs.some((l) => l['msg'] === 'migration finished'));
    const done = await h.call('GET', `/v1/vms/${UID}/migration`);
    expect(done.body).toMatchObject({ uid: UID, state: 'succeeded', destinationURI: DEST });
    expect(done.body.finishedAt).toBeDefined();
    expect((await h.call('GET', `/v1/vms/${UID}`)).status).toBe(404);
  });

  it('reports a failure with the error', async () => {
    await h.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: DEST });
    h.driver.pendingMigrations.get(UID)?.reject(new DriverError('Failed', 'unable to connect to server at 10.0.0.12:49152'));
    await until(() => h.logs.some((l) => l['msg'] === 'migration did not complete'));
    const res = await h.call('GET', `/v1/vms/${UID}/migration`);
    expect(res.body).toMatchObject({ state: 'failed', error: 'unable to connect to server at 10.0.0.12:49152' });
    // A new attempt may start once the last one ended.
    expect((await h.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: DEST })).status).toBe(202);
    expect(count('migrate')).toBe(2);
  });

  it('DELETE .../migration cancels; a repeat answers the same without a second abort', async () => {
    await h.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: DEST });
    const cancelled = await h.call('DELETE', `/v1/vms/${UID}/migration`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled' });
    expect(cancelled.body.error).toContain('aborted');
    const again = await h.call('DELETE', `/v1/vms/${UID}/migration`);
    expect(again.body).toEqual(cancelled.body);
    expect(count('abortJob')).toBe(1);
    expect((await h.call('GET', `/v1/vms/${UID}`)).body.state).toBe('running');
  });

  it('needs a running VM (409 VmNotRunning) and answers 404 when there was no migration', async () => {
    expect((await h.call('GET', `/v1/vms/${UID}/migration`)).status).toBe(404);
    expect((await h.call('DELETE', `/v1/vms/${UID}/migration`)).status).toBe(404);
    await h.call('POST', `/v1/vms/${UID}/destroy`);
    const res = await h.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: DEST });
    expect(res.status).toBe(409);
    expect(res.body.error.reason).toBe('VmNotRunning');
    expect(count('migrate')).toBe(0);
  });
});

describe('migration and storage', () => {
  it('refuses a VM with a disk on LocalFS storage (409 NotMigratable) without calling the driver', async () => {
    const local = await startAgent({});
    try {
      local.storage.seed('data', { files: ['boot/vmlinuz', 'boot/initrd.img'], volumes: [{ name: 'root', sizeBytes: 10 * 2 ** 30 }, { name: 'scratch', sizeBytes: 2 ** 30, format: 'raw' }], type: 'LocalFS' });
      await local.call('PUT', `/v1/vms/${UID}`, vmSpec());
      await local.call('POST', `/v1/vms/${UID}/start`);
      const answer = await local.call('POST', `/v1/vms/${UID}/migrate`, { destinationURI: DEST });
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ error: { reason: 'NotMigratable' } });
      expect(local.driver.calls.some((c) => c.method === 'migrate')).toBe(false);
    } finally {
      await local.close();
    }
  });
});
