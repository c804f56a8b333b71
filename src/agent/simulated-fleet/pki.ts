/**
 * Certificates for a fleet of simulated agents: a server certificate per
 * agent whose CN is its Host name and whose SAN is its address (the
 * operator's AgentClient checks both, so a Host never talks to another
 * host's agent), and a client certificate for whoever drives them, all from
 * a CA that is made here or given (e.g. the Manager's, so a real operator
 * can talk to the fleet).
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { createCa, issueClientCert, issueServerCert, readPem, type CertFiles, type PemPair } from '../pki/pki.js';
import type { FleetHost } from './addresses.js';

/** PEM material of a fleet. */
export interface FleetPki {
  /** The CA both sides trust. */
  ca: string;
  /** Each agent's server certificate, by host name. */
  servers: Map<string, PemPair>;
  /** A client certificate the agents accept (CN drover-operator). */
  client: PemPair;
}

/** openssl runs at a time: a hundred at once would only queue for the two cores. */
const CONCURRENCY = 4;

/**
 * Issues the fleet's certificates in `dir`.
 * @param ca an existing CA to sign with; a new one is created in `dir` when absent.
 */
export async function createFleetPki(dir: string, hosts: readonly FleetHost[], ca?: CertFiles): Promise<FleetPki> {
  const authority = ca ?? (await createCa(dir, 'fleet-ca', 'drover-simulated-fleet-ca'));
  const client = await readPem(await issueClientCert(dir, authority, { name: 'fleet-operator', commonName: 'drover-operator', organization: 'drover' }));
  const servers = new Map<string, PemPair>();
  const queue = [...hosts];
  const worker = async (): Promise<void> => {
    for (let h = queue.shift(); h !== undefined; h = queue.shift()) {
      const files = await issueServerCert(dir, authority, { name: `agent-${h.name}`, commonName: h.name, ips: [h.address] });
      servers.set(h.name, await readPem(files));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ca: await readFile(authority.cert, 'utf8'), servers, client };
}
