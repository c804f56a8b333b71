/**
 * A complete set of certificates for exercising the agent's mutual TLS in
 * tests: the Manager's CA, a server certificate for 127.0.0.1/localhost, a
 * valid client certificate, and the ones that must be refused: an expired
 * client certificate from the right CA and a client certificate from
 * another CA.
 */
import { readFile } from 'node:fs/promises';
import { createCa, issueClientCert, issueHostCert, issueServerCert, readPem, type PemPair } from './pki.js';

/** PEM material for mutual-TLS tests. */
export interface TestPki {
  /** The Manager's CA certificate (trusted by both sides). */
  ca: string;
  server: PemPair;
  client: PemPair;
  /** Signed by the Manager's CA, but its validity ended yesterday. */
  expiredClient: PemPair;
  /** Another host's certificate from the Manager's CA (server and client auth, as enrollment issues them). */
  otherHost: PemPair;
  /** A valid certificate from an unrelated CA. */
  foreignClient: PemPair;
  /** The unrelated CA. */
  foreignCa: string;
}

/** Creates a {@link TestPki} in `dir` (a fresh temporary directory). */
export async function createTestPki(dir: string): Promise<TestPki> {
  const [ca, foreignCa] = await Promise.all([createCa(dir, 'manager-ca', 'drover-manager-ca'), createCa(dir, 'foreign-ca', 'someone-elses-ca')]);
  const [server, client, expiredClient, foreignClient, otherHost] = await Promise.all([
    issueServerCert(dir, ca, { name: 'agent', commonName: 'drover-agent', ips: ['127.0.0.1'], dnsNames: ['localhost'] }),
    issueClientCert(dir, ca, { name: 'operator', commonName: 'drover-operator', organization: 'drover' }),
    issueClientCert(dir, ca, { name: 'operator-expired', commonName: 'drover-operator', days: -1 }),
    issueClientCert(dir, foreignCa, { name: 'operator-foreign', commonName: 'drover-operator' }),
    issueHostCert(dir, ca, { name: 'other-host', commonName: 'host-2', ips: ['127.0.0.2'], dnsNames: ['host-2'] }),
  ]);
  return {
    ca: await readFile(ca.cert, 'utf8'),
    server: await readPem(server),
    client: await readPem(client),
    expiredClient: await readPem(expiredClient),
    foreignClient: await readPem(foreignClient),
    otherHost: await readPem(otherHost),
    foreignCa: await readFile(foreignCa.cert, 'utf8'),
  };
}
