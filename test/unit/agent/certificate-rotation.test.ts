/**
 * The agent's certificate renewal over its real HTTPS server and real
 * openssl-made certificates (the hypervisor and storage are fakes): a request
 * for a new key, the signed certificate installed, new handshakes served
 * with it and the files replaced; every refusal changes nothing; a renewal
 * cut between its two renames is finished or dropped at the next start.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { AgentClient, retiredCertificate } from '../../../src/agent/client/index.js';
import { finishInterruptedRenewal } from '../../../src/agent/pki/rotation.js';
import { createAgentServer, type AgentServer } from '../../../src/agent/server/index.js';
import { createSelfSignedCa, issueKeyAndCert, signCsr, type PemKeyPair } from '../../../src/pki/openssl.js';
import { FakeDriver, FakeStorage } from './support/fakes.js';

const SERVER_EXT = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth,clientAuth', 'subjectAltName=IP:127.0.0.1,DNS:h1'];
const CLIENT_EXT = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];

let dir: string;
let ca: PemKeyPair;
let foreignCa: PemKeyPair;
let operator: PemKeyPair;
let server: AgentServer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-rotation-'));
  [ca, foreignCa] = await Promise.all([createSelfSignedCa('drover-manager-ca', 30), createSelfSignedCa('someone-elses-ca', 30)]);
  operator = await issueKeyAndCert(ca, { commonName: 'drover-operator' }, CLIENT_EXT, 30);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** An agent named h1 serving a fresh certificate whose files are in `dir`. */
async function startAgentWithFiles(name: string): Promise<{ client: AgentClient; files: { cert: string; key: string }; first: X509Certificate }> {
  const pair = await issueKeyAndCert(ca, { commonName: 'h1' }, SERVER_EXT, 30);
  const files = { cert: join(dir, `${name}-cert.pem`), key: join(dir, `${name}-key.pem`) };
  await writeFile(files.cert, pair.certPem);
  await writeFile(files.key, pair.keyPem);
  server = createAgentServer({
    tls: { cert: pair.certPem, key: pair.keyPem, ca: ca.certPem },
    certificateFiles: files,
    host: '127.0.0.1',
    port: 0,
    driver: new FakeDriver(),
    storage: new FakeStorage(),
    logger: pino({ level: 'silent' }),
    version: 'test',
    storagePollMs: 0,
  });
  await server.listen();
  const client = new AgentClient({ host: '127.0.0.1', port: server.port(), tls: { cert: operator.certPem, key: operator.keyPem, ca: ca.certPem }, expectedName: 'h1' });
  return { client, files, first: new X509Certificate(pair.certPem) };
}

/** The certificate a new TLS handshake with the agent is served. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: operator.certPem, key: operator.keyPem, servername: 'h1' }, () => {
      resolve(socket.getPeerCertificate().serialNumber.toLowerCase());
      socket.end();
    });
    socket.on('error', reject);
  });
}

const sign = (csrPem: string, signer = ca, commonName = 'h1') => signCsr({ ca: signer, csrPem, subject: { commonName }, extensions: SERVER_EXT, days: 60 });

describe('agent certificate renewal', () => {
  it('reports its certificate, makes a request for a new key, and serves the certificate signed for it', async () => {
    const { client, files, first } = await startAgentWithFiles('ok');
    expect((await client.capabilities()).certificate).toMatchObject({ serial: first.serialNumber.toLowerCase() });
    expect(await servedSerial(server!.port())).toBe(first.serialNumber.toLowerCase());

    const { csr } = await client.certificateRequest();
    expect(csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    const signed = await sign(csr);
    const installed = await client.installCertificate(signed);
    const next = new X509Certificate(signed);
    expect(installed).toEqual({ serial: next.serialNumber.toLowerCase(), notBefore: new Date(next.validFrom).toISOString(), notAfter: new Date(next.validTo).toISOString() });

    // New handshakes get the new certificate; the files hold it and its key, a matching pair.
    expect(await servedSerial(server!.port())).toBe(next.serialNumber.toLowerCase());
    expect((await client.capabilities()).certificate?.serial).toBe(next.serialNumber.toLowerCase());
    expect(await readFile(files.cert, 'utf8')).toBe(signed);
    expect(next.checkPrivateKey(createPrivateKey(await readFile(files.key, 'utf8')))).toBe(true);
    await client.close();
  });

  it('refuses a certificate without a request, for another key, from another CA or for another host, and changes nothing', async () => {
    const { client, files, first } = await startAgentWithFiles('bad');
    const serial = first.serialNumber.toLowerCase();
    const stranger = await issueKeyAndCert(ca, { commonName: 'h1' }, SERVER_EXT, 30);
    await expect(client.installCertificate(stranger.certPem)).rejects.toMatchObject({ status: 409, reason: 'NoPendingRequest' });

    const { csr } = await client.certificateRequest();
    await expect(client.installCertificate(stranger.certPem)).rejects.toMatchObject({ status: 400, reason: 'KeyMismatch' });
    await expect(client.installCertificate(await sign(csr, foreignCa))).rejects.toMatchObject({ status: 400, reason: 'UntrustedIssuer' });
    await expect(client.installCertificate(await sign(csr, ca, 'h2'))).rejects.toMatchObject({ status: 400, reason: 'WrongSubject' });
    await expect(client.installCertificate('not a certificate')).rejects.toMatchObject({ status: 400, reason: 'InvalidCertificate' });

    expect(await servedSerial(server!.port())).toBe(serial);
    expect(new X509Certificate(await readFile(files.cert, 'utf8')).serialNumber.toLowerCase()).toBe(serial);
    // The request is still pending: the right certificate is taken after the refusals.
    await client.installCertificate(await sign(csr));
    expect(await servedSerial(server!.port())).not.toBe(serial);
    await client.close();
  });
});

describe('finishInterruptedRenewal', () => {
  it('completes a whole renewal cut before the renames, drops a partial one, and completes one cut between the renames', async () => {
    const old = await issueKeyAndCert(ca, { commonName: 'h1' }, SERVER_EXT, 30);
    const fresh = await issueKeyAndCert(ca, { commonName: 'h1' }, SERVER_EXT, 30);
    const files = { cert: join(dir, 'cut-cert.pem'), key: join(dir, 'cut-key.pem') };

    // Cut before any rename, both .next files written: the renewal is whole, so it is completed.
    await writeFile(files.cert, old.certPem);
    await writeFile(files.key, old.keyPem);
    await writeFile(`${files.key}.next`, fresh.keyPem);
    await writeFile(`${files.cert}.next`, fresh.certPem);
    expect(await finishInterruptedRenewal(files)).toBe('completed');
    expect(await readFile(files.cert, 'utf8')).toBe(fresh.certPem);
    expect(await readFile(files.key, 'utf8')).toBe(fresh.keyPem);

    // Cut while writing: a .next key without its certificate is dropped, the pair in place stands.
    await writeFile(files.cert, old.certPem);
    await writeFile(files.key, old.keyPem);
    await writeFile(`${files.key}.next`, fresh.keyPem);
    expect(await finishInterruptedRenewal(files)).toBe('dropped');
    expect(await readFile(files.cert, 'utf8')).toBe(old.certPem);
    expect(await readFile(files.key, 'utf8')).toBe(old.keyPem);

    // Cut between the renames: the new key in place, the new certificate still .next.
    await writeFile(files.key, fresh.keyPem);
    await writeFile(`${files.cert}.next`, fresh.certPem);
    expect(await finishInterruptedRenewal(files)).toBe('completed');
    expect(await readFile(files.cert, 'utf8')).toBe(fresh.certPem);

    // A .next certificate that does not fit the key is dropped; nothing to do is nothing.
    await writeFile(`${files.cert}.next`, old.certPem);
    expect(await finishInterruptedRenewal(files)).toBe('dropped');
    expect(await readFile(files.cert, 'utf8')).toBe(fresh.certPem);
    expect(await finishInterruptedRenewal(files)).toBe('none');
  });
});

describe('retiredCertificate (the operator\'s pin on the newest certificate)', () => {
  const cert = { valid_from: 'Mar  1 12:00:00 2026 GMT', serialNumber: '0A1B' };
  it('passes a certificate issued at or after the newest one recorded, and when nothing is recorded', () => {
    expect(retiredCertificate(cert, undefined)).toBeUndefined();
    expect(retiredCertificate(cert, '2026-03-01T12:00:00Z')).toBeUndefined();
    expect(retiredCertificate(cert, '2026-02-28T12:00:00.000Z')).toBeUndefined();
  });
  it('refuses one issued earlier, naming it (code CERT_RETIRED)', () => {
    const error = retiredCertificate(cert, '2026-03-01T12:00:01Z');
    expect(error).toMatchObject({ code: 'CERT_RETIRED' });
    expect(error?.message).toContain('serial 0a1b');
    expect(error?.message).toContain('2026-03-01T12:00:01Z');
  });
  it('ignores a pin it cannot read rather than lock the host out', () => {
    expect(retiredCertificate(cert, 'not a time')).toBeUndefined();
  });
});
