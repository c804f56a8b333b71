/**
 * The Host objects enrollment checks against: a token only enrolls a Host
 * that exists, and the certificate's names come from its spec.address, never
 * from what the agent asks for.
 */
import { isIP } from 'node:net';
import type { KubeObject, ObjectClient } from '../../kube/types.js';
import { DNS_NAME } from '../../pki/openssl.js';
import type { AgentSans } from '../../pki/manager-pki.js';
import { Resources } from '../resources.js';

/** Reads Host objects. */
export interface HostLookup {
  /** The Host, or undefined when it does not exist. */
  getHost(namespace: string, name: string): Promise<KubeObject | undefined>;
}

/** A {@link HostLookup} reading through the API server (not an informer: non-leaders have caches too, but a fresh read avoids enrolling a just-deleted Host). */
export function hostLookupFromClient(client: ObjectClient): HostLookup {
  return { getHost: (namespace, name) => client.get(Resources.Host, namespace, name) };
}

/**
 * The certificate names for a Host: its spec.address (an IP SAN for an IP, a
 * DNS SAN otherwise) plus its object name as a DNS SAN. Undefined when the
 * address is missing or unusable.
 */
export function sansForHost(host: KubeObject): AgentSans | undefined {
  const address = (host.spec as { address?: unknown } | undefined)?.address;
  if (typeof address !== 'string' || address === '') return undefined;
  const name = host.metadata.name;
  if (isIP(address) !== 0) return { ips: [address], dns: [name] };
  if (!DNS_NAME.test(address)) return undefined;
  const lower = address.toLowerCase();
  return { ips: [], dns: lower === name ? [name] : [lower, name] };
}
