import { describe, expect, it } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { InvalidCsrError } from '../../../src/pki/openssl.js';
import { caCertHash } from '../../../src/pki/ca-hash.js';
import { MANAGER_LABEL, ManagerPki, NoCaError } from '../../../src/pki/manager-pki.js';
import { FakeSecretStore } from './fake-secret-store.js';
import { capturingLogger, makeCsr, opensslSpkiHash } from './support.js';

const DAY = 86_400_000;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

describe('ManagerPki.ensureCa', () => {
  it('creates the CA Secret once and returns the same CA afterwards', async () => {
    const store = new FakeSecretStore();
    const pki = new ManagerPki({ store });
    const first = await pki.ensureCa('ns1', 'demo');
    const second = await new ManagerPki({ store }).ensureCa('ns1', 'demo');
    expect(store.calls.create).toBe(1);
    expect(second).toEqual(first);
    // Reconciles call it constantly: the same process answers from memory.
    const reads = store.calls.get;
    expect(await pki.ensureCa('ns1', 'demo')).toEqual(first);
    expect(store.calls.get).toBe(reads);
    expect(first.secretName).toBe('demo-ca');

    const secret = (await store.get('ns1', 'demo-ca'))!;
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.labels).toEqual({ [MANAGER_LABEL]: 'demo' });
    expect(Object.keys(secret.data).sort()).toEqual(['tls.crt', 'tls.key']);
    const cert = new X509Certificate(secret.data['tls.crt']!);
    expect(cert.ca).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(secret.data['tls.key']!))).toBe(true);
    expect(first.caCertPem).toBe(secret.data['tls.crt']);
    // The hash is of the SubjectPublicKeyInfo, as openssl computes it independently.
    expect(first.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.caCertHash).toBe(await opensslSpkiHash(first.caCertPem));
    expect(Date.parse(first.notAfter) - Date.now()).toBeGreaterThan(9 * 365 * DAY);
  });

  it('two replicas racing to create the CA end up with the same one', async () => {
    const store = new FakeSecretStore();
    const [a, b] = [new ManagerPki({ store }), new ManagerPki({ store })];
    const [ca1, ca2] = await Promise.all([a.ensureCa('ns1', 'demo'), b.ensureCa('ns1', 'demo')]);
    // Both saw no Secret and both tried to create it; the loser re-read the winner's.
    expect(store.calls.create).toBe(2);
    expect(store.size()).toBe(1);
    expect(ca1.caCertHash).toBe(ca2.caCertHash);
    expect(ca1.caCertHash).toBe(caCertHash((await store.get('ns1', 'demo-ca'))!.data['tls.crt']!));
  });

  it('refuses (and never overwrites) a Secret of that name that is not a usable CA', async () => {
    const store = new FakeSecretStore();
    store.put('ns1', { name: 'demo-ca', type: 'Opaque', labels: { [MANAGER_LABEL]: 'demo' }, data: { password: 'x' } });
    await expect(new ManagerPki({ store }).ensureCa('ns1', 'demo')).rejects.toThrow(/not a usable CA: type is Opaque/);
    expect((await store.get('ns1', 'demo-ca'))!.data).toEqual({ password: 'x' });
  });

  it('logs the creation without key material', async () => {
    const { log, lines } = capturingLogger();
    const store = new FakeSecretStore();
    await new ManagerPki({ store, log }).ensureCa('ns1', 'demo');
    const key = (await store.get('ns1', 'demo-ca'))!.data['tls.key']!;
    const body = key.split('\n')[1]!;
    expect(lines.some((l) => l.includes('created Manager CA'))).toBe(true);
    expect(lines.join('\n')).not.toContain(body);
  });
});

describe('ManagerPki.clientTls', () => {
  it('is undefined without a CA, then a client certificate from that CA', async () => {
    const store = new FakeSecretStore();
    const pki = new ManagerPki({ store });
    expect(await pki.clientTls('ns1')).toBeUndefined();
    const ca = await pki.ensureCa('ns1', 'demo');
    const tls = (await pki.clientTls('ns1'))!;
    const caCert = new X509Certificate(ca.caCertPem);
    const cert = new X509Certificate(tls.cert as string);
    expect(tls.ca).toBe(ca.caCertPem);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(tls.key as string))).toBe(true);
    expect(cert.subject.split('\n').sort()).toEqual(['CN=drover-operator', 'O=drover:operators']);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.ca).toBe(false);
    const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    expect(Math.round(lifetime / DAY)).toBe(30);
  });

  it('finds the CA of a namespace by label, also in a fresh process', async () => {
    const store = new FakeSecretStore();
    const ca = await new ManagerPki({ store }).ensureCa('ns1', 'demo');
    const tls = (await new ManagerPki({ store }).clientTls('ns1'))!;
    expect(new X509Certificate(tls.cert as string).verify(new X509Certificate(ca.caCertPem).publicKey)).toBe(true);
    expect(await new ManagerPki({ store }).clientTls('other')).toBeUndefined();
  });

  it('reuses the certificate, per CA, and renews it once less than a third of its life is left', async () => {
    const store = new FakeSecretStore();
    let now = new Date();
    const pki = new ManagerPki({ store, now: () => now });
    await pki.ensureCa('ns1', 'demo');
    await pki.ensureCa('ns2', 'other');
    const [a1, a2] = await Promise.all([pki.clientTls('ns1'), pki.clientTls('ns1')]);
    expect(a2!.cert).toBe(a1!.cert);
    const b = await pki.clientTls('ns2');
    expect(b!.cert).not.toBe(a1!.cert);

    now = new Date(Date.now() + 19 * DAY); // 11 of 30 days left: keep
    expect((await pki.clientTls('ns1'))!.cert).toBe(a1!.cert);
    now = new Date(Date.now() + 21 * DAY); // 9 of 30 days left: renew
    const renewed = (await pki.clientTls('ns1'))!;
    expect(renewed.cert).not.toBe(a1!.cert);
    expect(new X509Certificate(renewed.cert as string).serialNumber).not.toBe(new X509Certificate(a1!.cert as string).serialNumber);
  });
});

describe('ManagerPki.signAgentCsr', () => {
  it('takes only the public key from the CSR: CN is the host, SANs are the argument, server+client auth, 1 year', async () => {
    const store = new FakeSecretStore();
    const pki = new ManagerPki({ store });
    const ca = await pki.ensureCa('ns1', 'demo');
    const { csrPem, keyPem } = await makeCsr({ subject: '/O=system:masters/CN=admin', san: 'DNS:evil.example.com,IP:1.2.3.4' });
    const signed = await pki.signAgentCsr('ns1', 'host1', csrPem, { ips: ['10.0.0.5'], dns: ['host1'] });
    const cert = new X509Certificate(signed.certPem);
    const caCert = new X509Certificate(ca.caCertPem);
    expect(signed.caPem).toBe(ca.caCertPem);
    expect(cert.subject).toBe('CN=host1');
    expect(cert.subjectAltName).toBe('IP Address:10.0.0.5, DNS:host1');
    expect(cert.keyUsage?.sort()).toEqual([SERVER_AUTH, CLIENT_AUTH].sort());
    expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.ca).toBe(false);
    expect(Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY)).toBe(365);
    expect(signed.notAfter).toBe(new Date(cert.validTo).toISOString());
  });

  it('refuses bad CSRs, weak keys, SAN injection, and namespaces without a CA', async () => {
    const store = new FakeSecretStore();
    const pki = new ManagerPki({ store });
    const sans = { ips: ['10.0.0.5'], dns: [] };
    await expect(pki.signAgentCsr('ns1', 'host1', (await makeCsr()).csrPem, sans)).rejects.toThrow(NoCaError);
    await pki.ensureCa('ns1', 'demo');
    await expect(pki.signAgentCsr('ns1', 'host1', 'not a csr', sans)).rejects.toThrow(InvalidCsrError);
    // A CSR whose signature does not verify (one bit of the signature flipped): no proof of possession.
    const { csrPem } = await makeCsr();
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 3]! ^= 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(pki.signAgentCsr('ns1', 'host1', tampered, sans)).rejects.toThrow(InvalidCsrError);
    const weak = await makeCsr({ keyArgs: ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'] });
    await expect(pki.signAgentCsr('ns1', 'host1', weak.csrPem, sans)).rejects.toThrow(/RSA >= 2048/);
    await expect(pki.signAgentCsr('ns1', 'host1', csrPem, { ips: [], dns: ['a,DNS:evil.com'] })).rejects.toThrow(/DNS name/);
    await expect(pki.signAgentCsr('ns1', 'host1', csrPem, { ips: ['10.0.0.1,DNS:x'], dns: [] })).rejects.toThrow(/IP address/);
    await expect(pki.signAgentCsr('ns1', 'host1', csrPem, { ips: [], dns: [] })).rejects.toThrow(/at least one/);
  });

  it('agent and operator certificates complete a mutual TLS handshake through the CA', async () => {
    const store = new FakeSecretStore();
    const pki = new ManagerPki({ store });
    const ca = await pki.ensureCa('ns1', 'demo');
    const { csrPem, keyPem } = await makeCsr();
    const agent = await pki.signAgentCsr('ns1', 'host1', csrPem, { ips: ['127.0.0.1'], dns: ['host1'] });
    const server = createServer({ cert: agent.certPem, key: keyPem, ca: agent.caPem, requestCert: true, rejectUnauthorized: true }, (s) => {
      s.end(String((s as TLSSocket).getPeerCertificate().subject.CN));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const tls = (await pki.clientTls('ns1'))!;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: ca.caCertPem, cert: tls.cert, key: tls.key }, () => {
          let text = '';
          socket.setEncoding('utf8');
          socket.on('data', (d: string) => (text += d));
          socket.on('end', () => resolve(text));
        });
        socket.on('error', reject);
      });
      expect(answer).toBe('drover-operator');
    } finally {
      server.close();
    }
  });
});
