import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpsRequest } from 'node:https';
import { startAgent, type Harness } from './support/harness.js';
import { GIB, UID, seedStorage, vmSpec } from './support/specs.js';

let h: Harness;
beforeAll(async () => {
  h = await startAgent();
  seedStorage(h.storage);
  // A running Drover VM, so that verbs on it would change something if validation let them through.
  await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
  await h.call('POST', `/v1/vms/${UID}/start`);
  h.driver.calls.length = 0;
  h.storage.calls.length = 0;
});
afterAll(async () => {
  await h.close();
});

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  reason: string;
  /** Expected `field`; null = the error names no field (the whole body or the route is wrong). */
  field: string | null;
}

const spec = vmSpec();
const disk0 = spec.disks?.[0];
const vm = `/v1/vms/${UID}`;
const vol = '/v1/storage/domains/data/volumes/disk9';

const cases: Case[] = [
  // Malformed or unsupported bodies.
  { name: 'malformed JSON', method: 'PUT', path: vm, raw: '{"name": "x",', status: 400, reason: 'MalformedJSON', field: null },
  { name: 'a JSON array instead of an object', method: 'PUT', path: vm, body: [spec], status: 400, reason: 'InvalidField', field: null },
  { name: 'a JSON string body', method: 'POST', path: `${vm}/start`, raw: '"start"', status: 400, reason: 'InvalidField', field: null },
  { name: 'text/plain content type', method: 'PUT', path: vm, raw: JSON.stringify(spec), headers: { 'content-type': 'text/plain' }, status: 415, reason: 'UnsupportedMediaType', field: null },
  // Unknown fields (strict objects).
  { name: 'unknown top-level field', method: 'PUT', path: vm, body: { ...spec, hostPath: '/etc' }, status: 400, reason: 'UnknownField', field: 'hostPath' },
  { name: 'unknown disk field (a raw path)', method: 'PUT', path: vm, body: { ...spec, disks: [{ ...disk0, path: '/etc/shadow' }] }, status: 400, reason: 'UnknownField', field: 'disks[0].path' },
  { name: '__proto__ key', method: 'PUT', path: vm, raw: JSON.stringify(spec).replace(/^\{/, '{"__proto__":{"admin":true},'), status: 400, reason: 'UnknownField', field: '__proto__' },
  { name: 'unknown field on start', method: 'POST', path: `${vm}/start`, body: { force: true }, status: 400, reason: 'UnknownField', field: 'force' },
  // Missing fields and wrong types.
  { name: 'missing name', method: 'PUT', path: vm, body: { ...spec, name: undefined }, status: 400, reason: 'MissingField', field: 'name' },
  { name: 'memoryMiB as a string', method: 'PUT', path: vm, body: { ...spec, memoryMiB: '512' }, status: 400, reason: 'InvalidField', field: 'memoryMiB' },
  { name: 'cpu.cores fractional', method: 'PUT', path: vm, body: { ...spec, cpu: { cores: 1.5 } }, status: 400, reason: 'InvalidField', field: 'cpu.cores' },
  { name: 'cpu.cores zero', method: 'PUT', path: vm, body: { ...spec, cpu: { cores: 0 } }, status: 400, reason: 'InvalidField', field: 'cpu.cores' },
  { name: 'acceleration unknown', method: 'PUT', path: vm, body: { ...spec, acceleration: 'xen' }, status: 400, reason: 'InvalidField', field: 'acceleration' },
  { name: 'owner namespace not a label', method: 'PUT', path: vm, body: { ...spec, owner: { namespace: 'Kube_System', name: 'x' } }, status: 400, reason: 'InvalidField', field: 'owner.namespace' },
  // Names with / or .., and paths escaping a storage domain.
  { name: 'VM name with /', method: 'PUT', path: vm, body: { ...spec, name: 'a/b' }, status: 400, reason: 'InvalidField', field: 'name' },
  { name: 'VM name with ..', method: 'PUT', path: vm, body: { ...spec, name: 'a..b' }, status: 400, reason: 'InvalidField', field: 'name' },
  { name: 'volume name ../etc', method: 'PUT', path: vm, body: { ...spec, disks: [{ ...disk0, volume: '../etc' }] }, status: 400, reason: 'InvalidField', field: 'disks[0].volume' },
  { name: 'kernel path with ..', method: 'PUT', path: vm, body: { ...spec, boot: { domain: 'data', kernel: 'boot/../../etc/shadow' } }, status: 400, reason: 'InvalidField', field: 'boot.kernel' },
  { name: 'absolute kernel path', method: 'PUT', path: vm, body: { ...spec, boot: { domain: 'data', kernel: '/etc/shadow' } }, status: 400, reason: 'InvalidField', field: 'boot.kernel' },
  { name: 'cmdline with a newline', method: 'PUT', path: vm, body: { ...spec, boot: { domain: 'data', kernel: 'boot/vmlinuz', cmdline: 'a\nb' } }, status: 400, reason: 'InvalidField', field: 'boot.cmdline' },
  { name: 'storage domain name .. in the path', method: 'PUT', path: '/v1/storage/domains/..', body: { connection: { type: 'LocalFS', path: '/srv' } }, status: 400, reason: 'InvalidField', field: 'name' },
  { name: 'storage domain name with an encoded /', method: 'DELETE', path: '/v1/storage/domains/a%2Fb', status: 400, reason: 'InvalidField', field: 'name' },
  { name: 'volume name ../../etc encoded in the path', method: 'DELETE', path: '/v1/storage/domains/data/volumes/..%2F..%2Fetc', status: 400, reason: 'InvalidField', field: 'volume' },
  { name: 'broken percent-encoding', method: 'DELETE', path: '/v1/storage/domains/data/volumes/%E0%A4%A', status: 400, reason: 'InvalidField', field: 'volume' },
  { name: 'uid not a UUID', method: 'POST', path: '/v1/vms/not-a-uuid/start', body: {}, status: 400, reason: 'InvalidField', field: 'uid' },
  { name: 'uid in upper case', method: 'DELETE', path: `/v1/vms/${UID.toUpperCase()}`, status: 400, reason: 'InvalidField', field: 'uid' },
  // Ranges.
  { name: 'memoryMiB huge', method: 'PUT', path: vm, body: { ...spec, memoryMiB: 1e12 }, status: 400, reason: 'InvalidField', field: 'memoryMiB' },
  { name: 'memoryMiB below 16', method: 'PUT', path: vm, body: { ...spec, memoryMiB: 8 }, status: 400, reason: 'InvalidField', field: 'memoryMiB' },
  { name: 'multicast MAC', method: 'PUT', path: vm, body: { ...spec, nics: [{ name: 'eth0', bridge: 'br0', mac: '01:00:5e:00:00:01' }] }, status: 400, reason: 'InvalidField', field: 'nics[0].mac' },
  { name: 'bridge name too long', method: 'PUT', path: vm, body: { ...spec, nics: [{ name: 'eth0', bridge: 'a-very-long-bridge-name', mac: '52:54:00:00:00:01' }] }, status: 400, reason: 'InvalidField', field: 'nics[0].bridge' },
  { name: 'duplicate disk names', method: 'PUT', path: vm, body: { ...spec, disks: [disk0, { ...disk0, volume: 'scratch', bootOrder: 2 }] }, status: 400, reason: 'InvalidField', field: 'disks[1].name' },
  { name: 'sizeBytes negative', method: 'PUT', path: vol, body: { sizeBytes: -1 }, status: 400, reason: 'InvalidField', field: 'sizeBytes' },
  { name: 'sizeBytes 1e300', method: 'PUT', path: vol, body: { sizeBytes: 1e300 }, status: 400, reason: 'InvalidField', field: 'sizeBytes' },
  { name: 'sizeBytes beyond 2^53', method: 'PUT', path: vol, raw: '{"sizeBytes": 9007199254740993}', status: 400, reason: 'InvalidField', field: 'sizeBytes' },
  { name: 'sizeBytes not a multiple of 512', method: 'PUT', path: vol, body: { sizeBytes: GIB + 1 }, status: 400, reason: 'InvalidField', field: 'sizeBytes' },
  { name: 'volume format vmdk', method: 'PUT', path: vol, body: { sizeBytes: GIB, format: 'vmdk' }, status: 400, reason: 'InvalidField', field: 'format' },
  { name: 'resize without sizeBytes', method: 'POST', path: `${vol}/resize`, body: {}, status: 400, reason: 'MissingField', field: 'sizeBytes' },
  { name: 'stop timeout negative', method: 'POST', path: `${vm}/stop`, body: { timeoutSeconds: -1 }, status: 400, reason: 'InvalidField', field: 'timeoutSeconds' },
  { name: 'stop timeout over the limit', method: 'POST', path: `${vm}/stop`, body: { timeoutSeconds: 86_400 }, status: 400, reason: 'InvalidField', field: 'timeoutSeconds' },
  // Storage connections and formats.
  { name: 'connection type CIFS', method: 'PUT', path: '/v1/storage/domains/data2', body: { connection: { type: 'CIFS', path: '/x' } }, status: 400, reason: 'InvalidField', field: 'connection.type' },
  { name: 'relative LocalFS path', method: 'PUT', path: '/v1/storage/domains/data2', body: { connection: { type: 'LocalFS', path: 'srv/data' } }, status: 400, reason: 'InvalidField', field: 'connection.path' },
  { name: 'NFS export with ..', method: 'PUT', path: '/v1/storage/domains/data2', body: { connection: { type: 'NFS', server: 'nfs', path: '/exports/../etc' } }, status: 400, reason: 'InvalidField', field: 'connection.path' },
  { name: 'mount options with shell characters', method: 'PUT', path: '/v1/storage/domains/data2', body: { connection: { type: 'PosixFS', path: '/dev/sdb', mountOptions: 'rw;reboot' } }, status: 400, reason: 'InvalidField', field: 'connection.mountOptions' },
  { name: 'missing connection', method: 'PUT', path: '/v1/storage/domains/data2', body: {}, status: 400, reason: 'MissingField', field: 'connection' },
  { name: 'format with a bad uuid', method: 'POST', path: '/v1/storage/domains/data/format', body: { uuid: 'xyz', role: 'Data' }, status: 400, reason: 'InvalidField', field: 'uuid' },
  { name: 'format with an unknown role', method: 'POST', path: '/v1/storage/domains/data/format', body: { uuid: '11111111-2222-4333-8444-555555555555', role: 'Backup' }, status: 400, reason: 'InvalidField', field: 'role' },
  // Migration.
  { name: 'destination URI with a query string', method: 'POST', path: `${vm}/migrate`, body: { destinationURI: 'qemu+tcp://10.0.0.2/system?keyfile=/etc/shadow' }, status: 400, reason: 'InvalidField', field: 'destinationURI' },
  { name: 'destination URI with another scheme', method: 'POST', path: `${vm}/migrate`, body: { destinationURI: 'http://10.0.0.2/' }, status: 400, reason: 'InvalidField', field: 'destinationURI' },
  { name: 'negative bandwidth', method: 'POST', path: `${vm}/migrate`, body: { destinationURI: 'qemu+tcp://10.0.0.2/system', bandwidthMiBps: -5 }, status: 400, reason: 'InvalidField', field: 'bandwidthMiBps' },
  // References the host cannot satisfy.
  { name: 'disk on a storage domain that is not connected', method: 'PUT', path: vm, body: { ...spec, memoryMiB: 1024, disks: [{ ...disk0, domain: 'elsewhere' }] }, status: 400, reason: 'StorageDomainNotConnected', field: 'disks[0].domain' },
  { name: 'disk on a volume that does not exist', method: 'PUT', path: vm, body: { ...spec, memoryMiB: 1024, disks: [{ ...disk0, volume: 'ghost' }] }, status: 400, reason: 'VolumeNotFound', field: 'disks[0].volume' },
  { name: 'kernel file that does not exist', method: 'PUT', path: vm, body: { ...spec, memoryMiB: 1024, boot: { domain: 'data', kernel: 'boot/missing' } }, status: 400, reason: 'FileNotFound', field: 'boot.kernel' },
  { name: 'boot from a storage domain that is not connected', method: 'PUT', path: vm, body: { ...spec, memoryMiB: 1024, boot: { domain: 'iso', kernel: 'vmlinuz' } }, status: 400, reason: 'StorageDomainNotConnected', field: 'boot.domain' },
  { name: 'volume on a storage domain that is not connected', method: 'PUT', path: '/v1/storage/domains/ghost/volumes/v1', body: { sizeBytes: GIB }, status: 404, reason: 'NotFound', field: null },
  // Routes and methods.
  { name: 'unknown route', method: 'GET', path: '/v1/nothing', status: 404, reason: 'NotFound', field: null },
  { name: 'unversioned route', method: 'GET', path: '/vms', status: 404, reason: 'NotFound', field: null },
  { name: 'dot segments are not resolved', method: 'GET', path: '/v1/storage/domains/../../v1/vms', status: 404, reason: 'NotFound', field: null },
  { name: 'wrong method', method: 'PATCH', path: vm, body: {}, status: 405, reason: 'MethodNotAllowed', field: null },
];

describe('bad input', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const opts: { raw?: string; headers?: Record<string, string> } = {};
    if (c.raw !== undefined) opts.raw = c.raw;
    if (c.headers !== undefined) opts.headers = c.headers;
    const res = await h.call(c.method, c.path, c.body, opts);
    expect({ status: res.status, reason: res.body?.error?.reason, field: res.body?.error?.field ?? null }).toEqual({
      status: c.status,
      reason: c.reason,
      field: c.field,
    });
    expect(res.body.error.code).toBe(c.status);
    expect(typeof res.body.error.message).toBe('string');
    if (c.field !== null) expect(res.body.error.message).toContain(c.field);
    expect(h.driver.mutatingCalls()).toEqual([]);
    expect(h.storage.mutatingCalls()).toEqual([]);
  });

  it('lists the allowed methods on 405', async () => {
    const res = await h.call('POST', '/v1/vms');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET');
    const both = await h.call('PATCH', vm);
    expect(both.headers['allow']).toBe('GET, PUT, DELETE');
  });

  it('caps request bodies at 1 MiB (413) without reading them into memory', async () => {
    const huge = JSON.stringify({ ...spec, name: 'x'.repeat(2 * 1024 * 1024) });
    const res = await h.call('PUT', vm, undefined, { raw: huge }).catch((e: Error) => e);
    // The agent answers 413 and closes; the client may see the answer or a reset while still sending.
    if (res instanceof Error) expect(res.message).toMatch(/EPIPE|ECONNRESET|socket hang up/);
    else {
      expect(res.status).toBe(413);
      expect(res.body.error.reason).toBe('PayloadTooLarge');
    }
    expect(h.driver.mutatingCalls()).toEqual([]);
    expect(h.logs.some((l) => l['status'] === 413)).toBe(true);
  });

  it('caps chunked bodies too (no content-length to trust)', async () => {
    const status = await new Promise<number | Error>((resolve) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: h.port,
          method: 'PUT',
          path: vol,
          agent: false,
          ca: h.pki.ca,
          cert: h.pki.client.cert,
          key: h.pki.client.key,
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', resolve);
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      req.write('{"sizeBytes":');
      for (let i = 0; i < 6; i++) req.write(chunk);
      req.end('1}');
    });
    if (status instanceof Error) expect(status.message).toMatch(/EPIPE|ECONNRESET|socket hang up/);
    else expect(status).toBe(413);
    expect(h.storage.mutatingCalls()).toEqual([]);
  });

  it('never logs request bodies', async () => {
    await h.call('PUT', vm, { ...spec, name: 'secret-looking-name-123' });
    const text = JSON.stringify(h.logs);
    expect(text).not.toContain('secret-looking-name-123');
    expect(h.logs.filter((l) => l['msg'] === 'request').every((l) => 'method' in l && 'path' in l && 'status' in l && 'ms' in l)).toBe(true);
  });
});
