import { afterAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { mkdtemp as mkdtempFs, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueClientCert, issueServerCert } from '../../../src/agent/pki/index.js';

const dirs: string[] = [];
async function mkdtemp(prefix: string): Promise<string> {
  const dir = await mkdtempFs(prefix);
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('agent PKI helpers', () => {
  it('issue server and client certificates from a CA, keys private to the owner', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-pki-'));
    const ca = await createCa(dir, 'ca', 'test-ca');
    const server = await issueServerCert(dir, ca, { name: 'host1', commonName: 'host1', ips: ['10.0.0.11'], dnsNames: ['host1.example.com'] });
    const client = await issueClientCert(dir, ca, { name: 'op', commonName: 'drover-operator', organization: 'drover' });
    const caCert = new X509Certificate(await readFile(ca.cert));
    const s = new X509Certificate(await readFile(server.cert));
    const c = new X509Certificate(await readFile(client.cert));
    expect(caCert.ca).toBe(true);
    expect(s.verify(caCert.publicKey)).toBe(true);
    expect(c.verify(caCert.publicKey)).toBe(true);
    expect(s.subjectAltName).toBe('IP Address:10.0.0.11, DNS:host1.example.com');
    expect(s.checkIP('10.0.0.11')).toBe('10.0.0.11');
    expect(s.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(c.subject).toContain('CN=drover-operator');
    expect((await stat(server.key)).mode & 0o777).toBe(0o600);
    expect(s.serialNumber).not.toBe(c.serialNumber);
  });

  it('makes already-expired certificates for tests', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-pki-'));
    const ca = await createCa(dir, 'ca');
    const expired = await issueClientCert(dir, ca, { name: 'old', commonName: 'old', days: -1 });
    const cert = new X509Certificate(await readFile(expired.cert));
    expect(new Date(cert.validTo).getTime()).toBeLessThan(Date.now());
  });

  it('refuses names that could become paths or subject injections', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-pki-'));
    await expect(createCa(dir, '../evil')).rejects.toThrow(/file name/);
    const ca = await createCa(dir, 'ca');
    await expect(issueClientCert(dir, ca, { name: 'x', commonName: 'a/CN=admin' })).rejects.toThrow(/common name/);
    await expect(issueServerCert(dir, ca, { name: 'y', commonName: 'y', ips: ['not-an-ip'] })).rejects.toThrow(/IP address/);
    await expect(issueServerCert(dir, ca, { name: 'z', commonName: 'z' })).rejects.toThrow(/at least one/);
  });
});
