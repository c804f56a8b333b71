/**
 * Certificates for a fleet of simulated agents: one server certificate
 * valid for every fleet address (the agents share it, as they share the
 * process), and a client certificate for whoever drives them, both from a
 * CA that is made here or given (e.g. the Manager's, so a real operator can
 * talk to the fleet).
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { createCa, issueClientCert, issueServerCert, readPem, type CertFiles, type PemPair } from '../pki/pki.js';

/** PEM material of a fleet. */
export interface FleetPki {
  /** The CA both sides trust. */
  ca: string;
  /** The agents' server certificate (every fleet address in its SAN). */
  server: PemPair;
  /** A client certificate the agents accept (CN drover-operator). */
  client: PemPair;
}

/**
 * Issues the fleet's certificates in `dir`.
 * @param ca an existing CA to sign with; a new one is created in `dir` when absent.
 */
export async function createFleetPki(dir: string, addresses: readonly string[], ca?: CertFiles): Promise<FleetPki> {
  const authority = ca ?? (await createCa(dir, 'fleet-ca', 'drover-simulated-fleet-ca'));
  const [server, client] = await Promise.all([
    issueServerCert(dir, authority, { name: 'fleet-agent', commonName: 'drover-agent', ips: [...addresses], dnsNames: ['localhost'] }),
    issueClientCert(dir, authority, { name: 'fleet-operator', commonName: 'drover-operator', organization: 'drover' }),
  ]);
  return { ca: await readFile(authority.cert, 'utf8'), server: await readPem(server), client: await readPem(client) };
}
