/**
 * Where a VM's domain may exist, as evidence for "never twice": the hosts
 * whose agents list it, and the hosts that could have it but can't say so
 * right now (its placement, and the source and target of its migrations).
 */
import type { MigrationStatus } from '../../api/index.js';
import { objectKey } from '../../runtime/keys.js';
import type { OperatorContext } from '../context.js';
import { linkKnowsVms } from '../namespace.js';

/** What the agents say about one VM's domain. */
export interface Whereabouts {
  /** Hosts whose fresh domain list contains the VM. */
  holders: string[];
  /** Hosts that may hold it but have no fresh list (not answering, or just reconnected). */
  unsure: string[];
}

/** Hosts that may have had the domain: its placement, the host a failover moves it from, and its migrations' ends. */
export function candidateHosts(
  ctx: OperatorContext,
  namespace: string | undefined,
  vmName: string,
  placedOn: string | undefined,
  failoverFrom?: string,
): Set<string> {
  const hosts = new Set<string>([placedOn, failoverFrom].filter((h): h is string => h !== undefined));
  for (const m of ctx.informers.migrations.list(namespace)) {
    if ((m.spec as { vmName?: string } | undefined)?.vmName !== vmName) continue;
    const s = (m.status ?? {}) as MigrationStatus;
    if (s.sourceHost) hosts.add(s.sourceHost);
    if (s.targetHost) hosts.add(s.targetHost);
  }
  return hosts;
}

/** Looks the domain `uid` up on every Host of the namespace. */
export function whereabouts(
  ctx: OperatorContext,
  namespace: string | undefined,
  vmName: string,
  uid: string,
  placedOn: string | undefined,
  failoverFrom?: string,
): Whereabouts {
  const candidates = candidateHosts(ctx, namespace, vmName, placedOn, failoverFrom);
  const holders: string[] = [];
  const unsure: string[] = [];
  for (const h of ctx.informers.hosts.list(namespace)) {
    const name = h.metadata.name;
    const link = ctx.agents.link(objectKey(namespace, name));
    if (linkKnowsVms(link)) {
      if (link.vms.some((d) => d.uid === uid)) holders.push(name);
    } else if (candidates.has(name)) {
      unsure.push(name);
    }
  }
  return { holders: holders.sort(), unsure: unsure.sort() };
}
