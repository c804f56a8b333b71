/**
 * What reconcilers look up about a namespace from the caches: its Manager's
 * settings (defaults when there is none) and the agent link of a Host.
 */
import { managerSpec, type ManagerSpec } from '../api/index.js';
import type { KubeObject } from '../kube/types.js';
import { objectKey } from '../runtime/keys.js';
import type { OperatorContext } from './context.js';
import type { HostLink } from '../operator/agents/types.js';

/** The namespace's Manager: the oldest one (newer duplicates are refused by the Manager reconciler). */
export function namespaceManager(managers: KubeObject[]): KubeObject | undefined {
  const byAge = (m: KubeObject) => `${m.metadata.creationTimestamp ?? ''}\u0000${m.metadata.name}`;
  return [...managers].sort((a, b) => (byAge(a) < byAge(b) ? -1 : byAge(a) > byAge(b) ? 1 : 0))[0];
}

/** The spec of the namespace's Manager among `managers` (defaults when there is no valid one). */
export function settingsOf(managers: KubeObject[]): ManagerSpec {
  const manager = namespaceManager(managers);
  const spec = manager?.spec ?? NO_SPEC;
  // Every Host and VM pass asks; the Manager's spec object changes only when the Manager does.
  const cached = settingsBySpec.get(spec);
  if (cached) return cached;
  const parsed = managerSpec.safeParse(spec);
  const settings = parsed.success ? parsed.data : managerSpec.parse({});
  settingsBySpec.set(spec, settings);
  return settings;
}

const NO_SPEC = {};
/** Parsed settings by Manager spec object (informer objects are replaced, never changed). Read only. */
const settingsBySpec = new WeakMap<object, ManagerSpec>();

/** The Manager spec that governs `namespace` (defaults when no valid Manager exists). */
export function managerSettings(ctx: OperatorContext, namespace: string | undefined): ManagerSpec {
  return settingsOf(ctx.informers.managers.list(namespace));
}

/** The link of Host `name` in `namespace`, if the connection manager has one. */
export function hostLink(ctx: OperatorContext, namespace: string | undefined, name: string): HostLink | undefined {
  return ctx.agents.link(objectKey(namespace, name));
}

/** True when the link answered its last heartbeat and has listed its domains. */
export function linkKnowsVms(link: HostLink | undefined): link is HostLink & { vms: NonNullable<HostLink['vms']> } {
  return link?.state === 'Connected' && link.vms !== undefined;
}

/** How long after taking leadership a host link that never connected yet counts as forming, not silent. */
const LINK_FORMING_GRACE_MS = 30_000;

/** True while the link to `host` is being set up for the first time since this replica leads. */
export function linkForming(ctx: OperatorContext, namespace: string | undefined, host: string | undefined): boolean {
  if (host === undefined || ctx.now().getTime() - ctx.leaderSince.getTime() > LINK_FORMING_GRACE_MS) return false;
  const key = objectKey(namespace, host);
  if (!ctx.informers.hosts.get(key)) return false;
  const link = ctx.agents.link(key);
  return link === undefined || (link.state === 'Connecting' && link.lastError === undefined && link.vms === undefined);
}
