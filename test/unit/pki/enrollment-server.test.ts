import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { answerProof } from '../../../src/pki/enrollment-protocol.js';
import { parseListenAddress } from '../../../src/operator/enrollment/server.js';
import { enrollBody, send, startFixture, type Fixture } from './enrollment-fixture.js';
import { capturingLogger, makeCsr } from './support.js';

const NS = 'env1';
let f: Fixture;
let csr: { csrPem: string; keyPem: string };

beforeEach(async () => {
  f = await startFixture();
  await f.pki.ensureCa(NS, 'demo');
  f.addHost(NS, 'host1', '10.1.2.3');
  csr = await makeCsr({ subject: '/CN=admin', san: 'DNS:evil.example.com' });
});
afterEach(async () => {
  await f.close();
});

const tokenSecretName = (id: string) => `bootstrap-token-${id}`;

describe('POST /v1/enroll', () => {
  it('signs the CSR for the Host, proves the answer, consumes the token and records an Event', async () => {
    const token = f.token(NS, { host: 'host1', expiration: new Date(Date.now() + 3600_000) });
    const answer = await send(f.port, { body: enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem }) });
    expect(answer.status).toBe(200);
    const { certificate, ca, proof } = answer.body as { certificate: string; ca: string; proof: string };
    expect(proof).toBe(answerProof(token.secret, certificate, ca));
    const cert = new X509Certificate(certificate);
    const caCert = new X509Certificate(ca);
    expect(ca).toBe((await f.pki.findCa(NS))!.caCertPem);
    expect(cert.subject).toBe('CN=host1');
    // Names from Host.spec.address and the Host's name, none from the CSR.
    expect(cert.subjectAltName).toBe('IP Address:10.1.2.3, DNS:host1');
    expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(csr.keyPem))).toBe(true);
    expect(f.store.has(NS, tokenSecretName(token.id))).toBe(false);
    expect(f.events).toHaveLength(1);
    expect(f.events[0]).toMatchObject({ type: 'Normal', reason: 'Enrolled', object: { metadata: { name: 'host1', namespace: NS } } });
  });

  it('uses a DNS address as a DNS SAN', async () => {
    f.addHost(NS, 'host2', 'hv2.example.com');
    const token = f.token(NS);
    const answer = await send(f.port, { body: enrollBody(token, { hostName: 'host2', namespace: NS, csr: csr.csrPem }) });
    expect(answer.status).toBe(200);
    expect(new X509Certificate(answer.body.certificate).subjectAltName).toBe('DNS:hv2.example.com, DNS:host2');
  });

  it('refuses a token used once already, without a certificate', async () => {
    const token = f.token(NS);
    const body = enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem });
    expect((await send(f.port, { body })).status).toBe(200);
    const again = await send(f.port, { body });
    expect(again.status).toBe(403);
    expect(again.body.certificate).toBeUndefined();
    expect(again.body.error).toMatchObject({ code: 403, reason: 'TokenNotFound', message: 'bootstrap token rejected' });
  });

  it('lets exactly one of two concurrent enrollments with one token win', async () => {
    const token = f.token(NS);
    const other = await makeCsr();
    const answers = await Promise.all([
      send(f.port, { body: enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem }) }),
      send(f.port, { body: enrollBody(token, { hostName: 'host1', namespace: NS, csr: other.csrPem }) }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 403]);
    const loser = answers.find((a) => a.status === 403)!;
    // Both got past the lookup and signing; the delete precondition decided.
    expect(loser.body.error.reason).toBe('TokenUsed');
    expect(loser.body.certificate).toBeUndefined();
    expect(f.store.calls.delete).toBe(2);
  });

  it('refuses a wrong proof (the same generic message) and keeps the token', async () => {
    const token = f.token(NS);
    const body = enrollBody({ id: token.id, secret: 'wrongwrongwrong0' }, { hostName: 'host1', namespace: NS, csr: csr.csrPem });
    const answer = await send(f.port, { body });
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ reason: 'InvalidProof', message: 'bootstrap token rejected' });
    // A proof over other fields does not transfer either: the CSR is bound by it.
    const swapped = { ...enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem }), csr: (await makeCsr()).csrPem };
    expect((await send(f.port, { body: swapped })).body.error.reason).toBe('InvalidProof');
    expect(f.store.has(NS, tokenSecretName(token.id))).toBe(true);
  });

  it('refuses a host-bound token for another host', async () => {
    f.addHost(NS, 'host2', '10.1.2.4');
    const token = f.token(NS, { host: 'host1' });
    const answer = await send(f.port, { body: enrollBody(token, { hostName: 'host2', namespace: NS, csr: csr.csrPem }) });
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ reason: 'HostMismatch', message: 'bootstrap token rejected' });
    expect(f.store.has(NS, tokenSecretName(token.id))).toBe(true);
  });

  it('refuses an expired token', async () => {
    const token = f.token(NS, { expiration: new Date(Date.now() + 60_000) });
    f.now.value = new Date(Date.now() + 61_000);
    const answer = await send(f.port, { body: enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem }) });
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ reason: 'TokenExpired', message: 'bootstrap token rejected' });
  });

  it('refuses a token from another namespace', async () => {
    const token = f.token('elsewhere');
    const answer = await send(f.port, { body: enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem }) });
    expect(answer.status).toBe(403);
    expect(answer.body.error.reason).toBe('TokenNotFound');
  });

  it('answers 404 for an unknown Host and keeps the token', async () => {
    const token = f.token(NS);
    const answer = await send(f.port, { body: enrollBody(token, { hostName: 'nohost', namespace: NS, csr: csr.csrPem }) });
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatchObject({ reason: 'HostNotFound', field: 'hostName' });
    expect(f.store.has(NS, tokenSecretName(token.id))).toBe(true);
  });

  it('answers 503 without a Manager CA, and 409 for another pinned CA, keeping the token', async () => {
    f.addHost('noca', 'host1', '10.1.2.3');
    const t1 = f.token('noca');
    const noCa = await send(f.port, { body: enrollBody(t1, { hostName: 'host1', namespace: 'noca', csr: csr.csrPem }) });
    expect(noCa.status).toBe(503);
    expect(noCa.body.error.reason).toBe('NoCa');
    expect(f.store.has('noca', tokenSecretName(t1.id))).toBe(true);

    const t2 = f.token(NS);
    const pinned = await send(f.port, { body: enrollBody(t2, { hostName: 'host1', namespace: NS, csr: csr.csrPem }, { caCertHash: `sha256:${'0'.repeat(64)}` }) });
    expect(pinned.status).toBe(409);
    expect(pinned.body.error).toMatchObject({ reason: 'CaCertHashMismatch', field: 'caCertHash' });
    expect(f.store.has(NS, tokenSecretName(t2.id))).toBe(true);
    const right = await send(f.port, { body: enrollBody(t2, { hostName: 'host1', namespace: NS, csr: csr.csrPem }, { caCertHash: (await f.pki.findCa(NS))!.caCertHash }) });
    expect(right.status).toBe(200);
  });

  it('answers 400 for a CSR that does not verify, keeping the token', async () => {
    const token = f.token(NS);
    const answer = await send(f.port, { body: enrollBody(token, { hostName: 'host1', namespace: NS, csr: 'garbage' }) });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ reason: 'InvalidField', field: 'csr' });
    expect(f.store.has(NS, tokenSecretName(token.id))).toBe(true);
  });

  it('answers 400 naming the field for malformed requests', async () => {
    const token = f.token(NS);
    const good = enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem });
    const readsBefore = f.store.calls.get;
    const cases: Array<[unknown, string, string]> = [
      [{ ...good, csr: undefined }, 'MissingField', 'csr'],
      [{ ...good, tokenId: 'UPPER!' }, 'InvalidField', 'tokenId'],
      [{ ...good, namespace: 'Bad_NS' }, 'InvalidField', 'namespace'],
      [{ ...good, hostName: 'h'.repeat(65) }, 'InvalidField', 'hostName'],
      [{ ...good, proof: 'abc' }, 'InvalidField', 'proof'],
      [{ ...good, secret: token.secret }, 'UnknownField', 'secret'],
    ];
    for (const [body, reason, field] of cases) {
      const answer = await send(f.port, { body });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ reason, field });
    }
    const notJson = await send(f.port, { raw: '{"tokenId":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.reason).toBe('MalformedJSON');
    // Malformed requests never reach the API server.
    expect(f.store.calls.get).toBe(readsBefore);
  });

  it('caps bodies at 64 KiB and serves only POST /v1/enroll', async () => {
    const big = await send(f.port, { raw: JSON.stringify({ csr: 'x'.repeat(70 * 1024) }) });
    expect(big.status).toBe(413);
    const get = await send(f.port, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers['allow']).toBe('POST');
    expect((await send(f.port, { path: '/v1/other', body: {} })).status).toBe(404);
    expect((await send(f.port, { raw: 'x', contentType: 'text/plain' })).status).toBe(415);
  });
});

describe('enrollment logging', () => {
  it('never logs the token secret, and logs refusals with their reason', async () => {
    const { log, lines } = capturingLogger('debug');
    const g = await startFixture({ log });
    try {
      await g.pki.ensureCa(NS, 'demo');
      g.addHost(NS, 'host1', '10.1.2.3');
      const token = g.token(NS);
      await send(g.port, { body: enrollBody({ id: token.id, secret: 'wrongwrongwrong0' }, { hostName: 'host1', namespace: NS, csr: csr.csrPem }) });
      expect((await send(g.port, { body: enrollBody(token, { hostName: 'host1', namespace: NS, csr: csr.csrPem }) })).status).toBe(200);
      const text = lines.join('\n');
      expect(text).toContain('"reason":"InvalidProof"');
      expect(text).toContain('host enrolled');
      expect(text).not.toContain(token.secret);
    } finally {
      await g.close();
    }
  });
});

describe('parseListenAddress', () => {
  it('parses host:port, [v6]:port and :port', () => {
    expect(parseListenAddress('0.0.0.0:9443')).toEqual({ host: '0.0.0.0', port: 9443 });
    expect(parseListenAddress('[::1]:9443')).toEqual({ host: '::1', port: 9443 });
    expect(parseListenAddress(':9443')).toEqual({ host: '0.0.0.0', port: 9443 });
    expect(() => parseListenAddress('9443')).toThrow(/host:port/);
    expect(() => parseListenAddress('a:70000')).toThrow(/host:port/);
  });
});
