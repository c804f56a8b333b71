import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { startAgent, type Harness } from './support/harness.js';
import { GIB, UID, seedStorage, vmSpec } from './support/specs.js';

let h: Harness;
beforeEach(async () => {
  h = await startAgent();
});
afterEach(async () => {
  await h.close();
});

const mutating = () => h.storage.mutatingCalls().map((c) => c.method);
const DOMAIN_UUID = '11111111-2222-4333-8444-555555555555';

describe('storage domains', () => {
  it('PUT connects once; a repeat answers the same; a different connection is 409 ConnectionMismatch', async () => {
    const body = { connection: { type: 'NFS', server: 'nfs.example.com', path: '/exports/data', mountOptions: 'vers=4.2' } };
    const first = await h.call('PUT', '/v1/storage/domains/data', body);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ name: 'data', connected: true, health: { ok: true } });
    const again = await h.call('PUT', '/v1/storage/domains/data', body);
    expect(again.body).toEqual(first.body);
    expect(mutating()).toEqual(['connect']);
    const other = await h.call('PUT', '/v1/storage/domains/data', { connection: { type: 'LocalFS', path: '/srv/x' } });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ reason: 'ConnectionMismatch', field: 'connection' });
    expect(mutating()).toEqual(['connect']);
  });

  it('GET lists domains and one domain; an unknown one is 404', async () => {
    seedStorage(h.storage);
    const list = await h.call('GET', '/v1/storage/domains');
    expect(list.body.items).toEqual([expect.objectContaining({ name: 'data', connected: true, capacity: { totalBytes: 100 * GIB, freeBytes: 60 * GIB } })]);
    expect((await h.call('GET', '/v1/storage/domains/data')).body.name).toBe('data');
    const missing = await h.call('GET', '/v1/storage/domains/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.reason).toBe('NotFound');
  });

  it('format writes metadata once; the same request again is the same answer; another uuid is 409 AlreadyFormatted', async () => {
    seedStorage(h.storage);
    const first = await h.call('POST', '/v1/storage/domains/data/format', { uuid: DOMAIN_UUID, role: 'Data' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ uuid: DOMAIN_UUID, name: 'data', role: 'Data', version: 1 });
    const again = await h.call('POST', '/v1/storage/domains/data/format', { uuid: DOMAIN_UUID, role: 'Data' });
    expect(again.body).toEqual(first.body);
    const other = await h.call('POST', '/v1/storage/domains/data/format', { uuid: '99999999-2222-4333-8444-555555555555', role: 'Data' });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ reason: 'AlreadyFormatted', field: 'uuid' });
    expect(mutating()).toEqual(['format']);
    const notConnected = await h.call('POST', '/v1/storage/domains/ghost/format', { uuid: DOMAIN_UUID, role: 'Data' });
    expect(notConnected.status).toBe(404);
  });

  it('DELETE disconnects once, refuses while a running VM uses a volume, and a repeat is the same answer', async () => {
    seedStorage(h.storage);
    await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    await h.call('POST', `/v1/vms/${UID}/start`);
    const busy = await h.call('DELETE', '/v1/storage/domains/data');
    expect(busy.status).toBe(409);
    expect(busy.body.error.reason).toBe('VolumeInUse');
    expect(mutating()).toEqual([]);
    await h.call('POST', `/v1/vms/${UID}/destroy`);
    const first = await h.call('DELETE', '/v1/storage/domains/data');
    expect(first.body).toEqual({ name: 'data', connected: false });
    const again = await h.call('DELETE', '/v1/storage/domains/data');
    expect(again.body).toEqual(first.body);
    expect(mutating()).toEqual(['disconnect']);
  });
});

describe('volumes', () => {
  beforeEach(() => seedStorage(h.storage));
  const path = '/v1/storage/domains/data/volumes/disk1';

  it('PUT creates once; the same size again is 200 with the same answer; another size or format is 409', async () => {
    const first = await h.call('PUT', path, { sizeBytes: 2 * GIB, format: 'qcow2' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ name: 'disk1', domain: 'data', format: 'qcow2', virtualSizeBytes: 2 * GIB, path: '/srv/data/images/disk1.qcow2' });
    const again = await h.call('PUT', path, { sizeBytes: 2 * GIB });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const bigger = await h.call('PUT', path, { sizeBytes: 4 * GIB });
    expect(bigger.status).toBe(409);
    expect(bigger.body.error).toMatchObject({ reason: 'SizeMismatch', field: 'sizeBytes' });
    const raw = await h.call('PUT', path, { sizeBytes: 2 * GIB, format: 'raw' });
    expect(raw.status).toBe(409);
    expect(raw.body.error).toMatchObject({ reason: 'FormatMismatch', field: 'format' });
    expect(mutating()).toEqual(['createVolume']);
  });

  it('resize grows; the same size is a no-op; shrinking is 409; a missing volume is 404', async () => {
    await h.call('PUT', path, { sizeBytes: 2 * GIB });
    const grown = await h.call('POST', `${path}/resize`, { sizeBytes: 3 * GIB });
    expect(grown.status).toBe(200);
    expect(grown.body.virtualSizeBytes).toBe(3 * GIB);
    const same = await h.call('POST', `${path}/resize`, { sizeBytes: 3 * GIB });
    expect(same.body).toEqual(grown.body);
    const shrink = await h.call('POST', `${path}/resize`, { sizeBytes: GIB });
    expect(shrink.status).toBe(409);
    expect(shrink.body.error).toMatchObject({ reason: 'ShrinkNotSupported', field: 'sizeBytes' });
    expect((await h.call('POST', '/v1/storage/domains/data/volumes/none/resize', { sizeBytes: GIB })).status).toBe(404);
    expect(mutating()).toEqual(['createVolume', 'resizeVolume']);
  });

  it('GET lists and reads volumes', async () => {
    const list = await h.call('GET', '/v1/storage/domains/data/volumes');
    expect(list.body.items.map((v: { name: string }) => v.name)).toEqual(['root', 'scratch']);
    expect((await h.call('GET', '/v1/storage/domains/data/volumes/root')).body.virtualSizeBytes).toBe(10 * GIB);
    expect((await h.call('GET', '/v1/storage/domains/data/volumes/nope')).status).toBe(404);
    expect((await h.call('GET', '/v1/storage/domains/ghost/volumes')).status).toBe(404);
  });

  it('DELETE removes once, refuses a disk of a defined VM (409 VolumeInUse), and a repeat is the same answer', async () => {
    await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    const inUse = await h.call('DELETE', '/v1/storage/domains/data/volumes/root');
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.reason).toBe('VolumeInUse');
    await h.call('PUT', path, { sizeBytes: GIB });
    const first = await h.call('DELETE', path);
    expect(first.body).toEqual({ domain: 'data', name: 'disk1', deleted: true });
    const again = await h.call('DELETE', path);
    expect(again.body).toEqual(first.body);
    expect(mutating()).toEqual(['createVolume', 'deleteVolume']);
  });
});
