/**
 * Is a silent host alive? Asks the other hosts' agents for the storage
 * heartbeats they see on shared storage domains (each agent writes its own
 * every few seconds, like sanlock's delta leases): a fresh one means the
 * host is cut off from the operator, not dead.
 */
import type { HostStatus, StorageDomainStatus } from '../../api/index.js';
import { errorMessage } from '../../runtime/errors.js';
import { objectKey } from '../../runtime/keys.js';
import type { OperatorContext } from '../context.js';

/** Shared (not LocalFS) Active storage domains of the namespace. */
function sharedDomains(ctx: OperatorContext, namespace: string | undefined): string[] {
  return ctx.informers.storageDomains
    .list(namespace)
    .filter((d) => (d.status as StorageDomainStatus | undefined)?.phase === 'Active')
    .filter((d) => (d.spec as { type?: string }).type !== 'LocalFS')
    .map((d) => d.metadata.name)
    .sort();
}

/**
 * `hostName`'s storage heartbeat as the other answering hosts see it, or
 * undefined when no other host could be asked.
 */
export async function observeStorageHeartbeat(
  ctx: OperatorContext,
  namespace: string | undefined,
  hostName: string,
  timeoutSeconds: number,
  /** Peers whose own last answer is older than this are not asked (they may be cut off too). */
  peerFreshMs: number,
): Promise<NonNullable<HostStatus['storageHeartbeat']> | undefined> {
  const domains = sharedDomains(ctx, namespace);
  if (domains.length === 0) return undefined;
  let best: { age: number; by: string } | undefined;
  let asked = 0;
  const failures: string[] = [];
  for (const peer of ctx.informers.hosts.list(namespace)) {
    if (peer.metadata.name === hostName) continue;
    const key = objectKey(namespace, peer.metadata.name);
    const link = ctx.agents.link(key);
    if (link?.state !== 'Connected' || !link.lastHeartbeat || ctx.now().getTime() - link.lastHeartbeat.getTime() > peerFreshMs) continue;
    const client = ctx.agents.client(key);
    if (!client) continue;
    const connected = new Set(((peer.status as HostStatus | undefined)?.storageDomains ?? []).filter((d) => d.connected).map((d) => d.name));
    for (const domain of domains.filter((d) => connected.has(d))) {
      try {
        const { items } = await client.storageHeartbeats(domain);
        asked += 1;
        const mine = items.find((i) => i.host === hostName);
        if (mine && (best === undefined || mine.ageSeconds < best.age)) best = { age: mine.ageSeconds, by: peer.metadata.name };
      } catch (error) {
        failures.push(`${peer.metadata.name}/${domain}: ${errorMessage(error)}`);
      }
    }
    // One answering peer with a fresh view is enough.
    if (best !== undefined && best.age < timeoutSeconds) break;
  }
  if (asked === 0) return undefined;
  const observedTime = ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (best === undefined) {
    return { fresh: false, observedTime, message: `no host sees a storage heartbeat of ${hostName}${failures.length ? ` (${failures.join('; ')})` : ''}` };
  }
  const ageSeconds = Math.round(best.age * 10) / 10;
  return {
    fresh: best.age < timeoutSeconds,
    ageSeconds,
    observedBy: best.by,
    observedTime,
    message: `${best.by} sees its storage heartbeat ${ageSeconds} s old (fresh below ${timeoutSeconds} s)`,
  };
}
