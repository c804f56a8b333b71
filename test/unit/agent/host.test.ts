import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { cpuUsagePercent, HostStatsSampler, parseLoadavg, parseMeminfo, parseProcStat } from '../../../src/agent/server/index.js';
import { DriverError } from '../../../src/hypervisor/driver.js';
import { startAgent, testPki, type Harness } from './support/harness.js';
import { UID, seedStorage, vmSpec } from './support/specs.js';

describe('host verbs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startAgent({ version: '1.2.3' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('GET /v1/host/capabilities reports the hypervisor facts and the agent version', async () => {
    const res = await h.call('GET', '/v1/host/capabilities');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      hostUUID: '00000000-0000-4000-8000-0000000000aa',
      cpu: { model: 'Skylake-Server', vendor: 'Intel', sockets: 1, cores: 4, threads: 2, flags: ['vmx', 'sse4_2'] },
      memoryBytes: 16 * 1024 ** 3,
      hypervisorType: 'kvm',
      libvirtVersion: '9.0.0',
      qemuVersion: '7.2.0',
      agentVersion: '1.2.3',
      leases: { manager: 'none' },
      // The certificate it serves, as the operator decides renewals from it.
      certificate: { serial: expect.stringMatching(/^[0-9a-f]+$/), notBefore: expect.any(String), notAfter: expect.any(String) },
    });
    const served = new X509Certificate((await testPki()).server.cert);
    expect(res.body.certificate).toEqual({ serial: served.serialNumber.toLowerCase(), notBefore: new Date(served.validFrom).toISOString(), notAfter: new Date(served.validTo).toISOString() });
  });

  it('GET /v1/host/stats reports CPU use, memory, load and running VMs from /proc', async () => {
    seedStorage(h.storage);
    await h.call('PUT', `/v1/vms/${UID}`, vmSpec());
    await h.call('POST', `/v1/vms/${UID}/start`);
    const res = await h.call('GET', '/v1/host/stats');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      cpuUsagePercent: 50,
      memory: { totalBytes: 16384000 * 1024, freeBytes: 8192000 * 1024, availableBytes: 12288000 * 1024 },
      loadAverage: { one: 0.5, five: 0.25, fifteen: 0.1 },
      runningVMs: 1,
    });
  });

  it('answers 503 when libvirt is unavailable', async () => {
    h.driver.failNext.set('capabilities', new DriverError('Unavailable', 'Failed to connect socket to /run/libvirt/libvirt-sock'));
    const res = await h.call('GET', '/v1/host/capabilities');
    expect(res.status).toBe(503);
    expect(res.body.error.reason).toBe('Unavailable');
  });
});

describe('/proc parsing', () => {
  it('computes CPU use from two /proc/stat samples (guest time is inside user; idle and iowait are not busy)', () => {
    const a = parseProcStat('cpu  100 10 50 800 40 0 0 0 30 0\ncpu0 1 2 3 4\nintr 1\n');
    expect(a).toEqual({ busy: 160, total: 1000 });
    const b = parseProcStat('cpu  200 10 100 900 90 0 0 0 60 0\n');
    expect(cpuUsagePercent(a, b)).toBe(50);
    expect(cpuUsagePercent(a, a)).toBe(0);
    expect(() => parseProcStat('intr 1\n')).toThrow(/no aggregate cpu line/);
  });

  it('reads meminfo in KiB and falls back to MemFree without MemAvailable', () => {
    expect(parseMeminfo('MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 500 kB\n')).toEqual({
      totalBytes: 1024000,
      freeBytes: 204800,
      availableBytes: 512000,
    });
    expect(parseMeminfo('MemTotal: 1000 kB\nMemFree: 200 kB\n').availableBytes).toBe(204800);
    expect(() => parseMeminfo('nothing')).toThrow();
  });

  it('reads the load averages', () => {
    expect(parseLoadavg('1.00 2.50 3.75 2/300 4242\n')).toEqual({ one: 1, five: 2.5, fifteen: 3.75 });
    expect(() => parseLoadavg('x y')).toThrow();
  });

  it('measures CPU use since the previous sample', async () => {
    const stats = ['cpu  0 0 0 0 0 0 0 0\n', 'cpu  10 0 0 90 0 0 0 0\n', 'cpu  110 0 0 90 0 0 0 0\n'];
    let i = 0;
    const sampler = new HostStatsSampler(async (file) => {
      if (file === 'stat') return stats[i++] ?? '';
      return file === 'meminfo' ? 'MemTotal: 1 kB\nMemFree: 1 kB\n' : '0 0 0 1/1 1';
    }, 1);
    expect((await sampler.sample()).cpuUsagePercent).toBe(10);
    expect((await sampler.sample()).cpuUsagePercent).toBe(100);
  });
});
