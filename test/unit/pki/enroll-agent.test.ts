import { afterEach, describe, expect, it } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { enrollAgent, EnrollmentRefusedError } from '../../../src/agent/enroll/index.js';
import { formatBootstrapToken, type BootstrapToken } from '../../../src/pki/bootstrap-token.js';
import { answerProof, enrollRequestSchema } from '../../../src/pki/enrollment-protocol.js';
import { ManagerPki } from '../../../src/pki/manager-pki.js';
import { createSelfSignedServerCert } from '../../../src/pki/openssl.js';
import { startFixture, type Fixture } from './enrollment-fixture.js';
import { FakeSecretStore } from './fake-secret-store.js';
import { capturingLogger, tempDir } from './support.js';

const NS = 'env1';
const silent = pino({ level: 'silent' });
const fast = { initialDelayMs: 10, maxDelayMs: 40 };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function fixture(o: Parameters<typeof startFixture>[0] = {}): Promise<Fixture> {
  const f = await startFixture(o);
  cleanups.push(() => f.close());
  await f.pki.ensureCa(NS, 'demo');
  f.addHost(NS, 'host1', '127.0.0.1');
  return f;
}

const url = (port: number) => `https://127.0.0.1:${port}`;
const tokenText = (t: BootstrapToken) => formatBootstrapToken(t);

describe('enrollAgent', () => {
  it('enrolls, writes owner-only files for its own key, and later starts from them without asking', async () => {
    const f = await fixture();
    const token = f.token(NS, { host: 'host1' });
    const stateDir = await tempDir();
    const { log, lines } = capturingLogger();
    const ca = (await f.pki.findCa(NS))!;
    const files = await enrollAgent({ url: url(f.port), token: tokenText(token), hostName: 'host1', namespace: NS, stateDir, caCertHash: ca.caCertHash, log });
    expect(files).toEqual({ enrolled: true, cert: join(stateDir, 'pki', 'cert.pem'), key: join(stateDir, 'pki', 'key.pem'), ca: join(stateDir, 'pki', 'ca.pem') });
    const cert = new X509Certificate(await readFile(files.cert));
    expect(cert.subject).toBe('CN=host1');
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(files.key)))).toBe(true);
    expect(await readFile(files.ca, 'utf8')).toBe(ca.caCertPem);
    for (const file of [files.cert, files.key, files.ca]) expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(stateDir, 'pki'))).mode & 0o777).toBe(0o700);
    await expect(stat(join(stateDir, 'pki', 'pending-key.pem'))).rejects.toThrow();
    expect(lines.join('\n')).not.toContain(token.secret);

    // The token is spent and the server gone: valid files are enough.
    await f.close();
    const again = await enrollAgent({ url: url(f.port), token: tokenText(token), hostName: 'host1', namespace: NS, stateDir, caCertHash: ca.caCertHash, log: silent });
    expect(again.enrolled).toBe(false);
    expect(await readFile(again.cert, 'utf8')).toBe(await readFile(files.cert, 'utf8'));
  });

  it('enrolls again when the files on disk are for another host', async () => {
    const f = await fixture();
    f.addHost(NS, 'host2', '127.0.0.2');
    const stateDir = await tempDir();
    await enrollAgent({ url: url(f.port), token: tokenText(f.token(NS)), hostName: 'host1', namespace: NS, stateDir, log: silent });
    const second = await enrollAgent({ url: url(f.port), token: tokenText(f.token(NS)), hostName: 'host2', namespace: NS, stateDir, log: silent });
    expect(second.enrolled).toBe(true);
    expect(new X509Certificate(await readFile(second.cert)).subject).toBe('CN=host2');
  });

  it('gives up at once on a 4xx, with the reason', async () => {
    const f = await fixture();
    const token = f.token(NS);
    const stateDir = await tempDir();
    const wrong = { id: token.id, secret: 'wrongwrongwrong0' };
    const error = await enrollAgent({ url: url(f.port), token: tokenText(wrong), hostName: 'host1', namespace: NS, stateDir, log: silent, ...fast }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnrollmentRefusedError);
    expect(error).toMatchObject({ status: 403, reason: 'InvalidProof' });
    expect((error as Error).message).toMatch(/HTTP 403 InvalidProof/);
    expect(f.store.calls.get).toBe(2); // ensureCa's read, then exactly one enrollment attempt
    await expect(stat(join(stateDir, 'pki', 'cert.pem'))).rejects.toThrow();
  });

  it('retries 5xx answers with backoff until the Manager CA exists', async () => {
    let findCalls = 0;
    const f = await startFixture({
      signer: (pki) => ({
        findCa: async (ns) => {
          // The Manager reconciler creates the CA after the agent already knocked twice.
          if (++findCalls === 3) await pki.ensureCa(ns, 'demo');
          return pki.findCa(ns);
        },
        signAgentCsr: (...args) => pki.signAgentCsr(...args),
      }),
    });
    cleanups.push(() => f.close());
    f.addHost(NS, 'host1', '127.0.0.1');
    const { log, lines } = capturingLogger();
    const files = await enrollAgent({ url: url(f.port), token: tokenText(f.token(NS)), hostName: 'host1', namespace: NS, stateDir: await tempDir(), log, ...fast });
    expect(files.enrolled).toBe(true);
    expect(findCalls).toBe(3);
    expect(lines.filter((l) => l.includes('retrying'))).toHaveLength(2);
  });

  it('refuses a CA that does not match the pin before the token is spent', async () => {
    const f = await fixture();
    const token = f.token(NS);
    const error = await enrollAgent({
      url: url(f.port), token: tokenText(token), hostName: 'host1', namespace: NS, stateDir: await tempDir(), log: silent,
      caCertHash: `sha256:${'a'.repeat(64)}`,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'CaCertHashMismatch', status: 409 });
    expect(f.store.has(NS, `bootstrap-token-${token.id}`)).toBe(true);
  });
});

describe('enrollAgent against a server it must not trust', () => {
  /**
   * A server that signs with its own CA and ignores the pin. `knowsSecret`
   * decides whether it can make the answer's proof (a stolen token) or not
   * (an impostor relaying nothing).
   */
  async function rogue(token: BootstrapToken, knowsSecret: boolean): Promise<{ port: number; caHash: string }> {
    const pki = new ManagerPki({ store: new FakeSecretStore() });
    const ca = await pki.ensureCa(NS, 'rogue');
    const serving = await createSelfSignedServerCert('rogue', { ips: ['127.0.0.1'] }, 1);
    const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', async () => {
        const r = enrollRequestSchema.parse(JSON.parse(text));
        const signed = await pki.signAgentCsr(NS, r.hostName, r.csr, { ips: ['127.0.0.1'], dns: [] });
        const proof = answerProof(knowsSecret ? token.secret : 'notthesecret0000', signed.certPem, signed.caPem);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ certificate: signed.certPem, ca: signed.caPem, proof }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    return { port: (server.address() as AddressInfo).port, caHash: ca.caCertHash };
  }

  const token: BootstrapToken = { id: 'abc123', secret: '0123456789abcdef' };

  it('refuses an answer whose proof is not from the token holder', async () => {
    const r = await rogue(token, false);
    const stateDir = await tempDir();
    const error = await enrollAgent({ url: url(r.port), token: tokenText(token), hostName: 'host1', namespace: NS, stateDir, log: silent }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnrollmentRefusedError);
    expect(error).toMatchObject({ status: 0, reason: 'AnswerProofMismatch' });
    await expect(stat(join(stateDir, 'pki', 'cert.pem'))).rejects.toThrow();
  });

  it('with a stolen token, is stopped by the CA pin; without a pin it would accept', async () => {
    const r = await rogue(token, true);
    const stateDir = await tempDir();
    const pin = `sha256:${'b'.repeat(64)}`;
    const error = await enrollAgent({ url: url(r.port), token: tokenText(token), hostName: 'host1', namespace: NS, stateDir, caCertHash: pin, log: silent }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, reason: 'CaCertHashMismatch' });
    await expect(stat(join(stateDir, 'pki', 'cert.pem'))).rejects.toThrow();
    // The pin is what makes the difference: the same answer passes without one.
    const unpinned = await enrollAgent({ url: url(r.port), token: tokenText(token), hostName: 'host1', namespace: NS, stateDir, log: silent });
    expect(unpinned.enrolled).toBe(true);
    // On restart, files from another CA than the pinned one are not trusted: it tries to enroll again
    // (and finds no server here) ...
    const restart = enrollAgent({
      url: 'https://127.0.0.1:1', token: tokenText(token), hostName: 'host1', namespace: NS, stateDir, caCertHash: pin, log: silent,
      signal: AbortSignal.timeout(300), ...fast,
    });
    await expect(restart).rejects.toThrow(/aborted/);
    // ... while pinned to the CA that issued them, it starts from them without asking anyone.
    const pinnedRestart = await enrollAgent({
      url: 'https://127.0.0.1:1', token: tokenText(token), hostName: 'host1', namespace: NS, stateDir, caCertHash: r.caHash, log: silent,
    });
    expect(pinnedRestart.enrolled).toBe(false);
  });
});
