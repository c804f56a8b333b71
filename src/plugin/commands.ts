/**
 * `status`, `migrate` and `maintenance`: they read Drover objects and change
 * state only by creating a VirtualMachineMigration or patching a Host's
 * spec.maintenance. Unknown objects are errors before anything is written.
 *
 * @packageDocumentation
 */
import { KINDS } from '../api/kinds.js';
import type { KubeObject, ResourceType } from '../kube/types.js';
import { cell, conditionStatus, table } from './output.js';

const GROUP = 'drover.io';
const VERSION = 'v1alpha1';

function resource(kind: string): ResourceType {
  const k = KINDS.find((x) => x.kind === kind);
  if (!k) throw new Error(`unknown kind ${kind}`);
  return { group: GROUP, version: VERSION, plural: k.plural, kind: k.kind };
}

/** Resource types the plugin uses. */
export const PluginResources = {
  Manager: resource('Manager'),
  Host: resource('Host'),
  StorageDomain: resource('StorageDomain'),
  VirtualMachine: resource('VirtualMachine'),
  VirtualMachineMigration: resource('VirtualMachineMigration'),
};

/** The API calls the commands need (PluginKube implements it; see src/kube/plugin-api.ts). */
export interface PluginApi {
  get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>;
  list(type: ResourceType, namespace: string): Promise<KubeObject[]>;
  create(type: ResourceType, namespace: string, body: object): Promise<KubeObject>;
  mergePatch(type: ResourceType, namespace: string, name: string, body: object): Promise<KubeObject>;
}

/** A failure that is the user's to fix (unknown object, bad target): printed as one line, exit 1. */
export class PluginError extends Error {}

type Status = Record<string, any>;
const statusOf = (o: KubeObject): Status => (o.status ?? {}) as Status;
const specOf = (o: KubeObject): Status => (o.spec ?? {}) as Status;

async function mustGet(api: PluginApi, type: ResourceType, namespace: string, name: string): Promise<KubeObject> {
  const obj = await api.get(type, namespace, name);
  if (!obj) throw new PluginError(`${type.kind.toLowerCase()} "${name}" not found in namespace "${namespace}"`);
  return obj;
}

/** `migrate VM [--to HOST]`: creates a VirtualMachineMigration; returns what to print. */
export async function migrate(api: PluginApi, namespace: string, vmName: string, to?: string): Promise<string> {
  const vm = await mustGet(api, PluginResources.VirtualMachine, namespace, vmName);
  const from = statusOf(vm)['host'] as string | undefined;
  if (!from) throw new PluginError(`virtualmachine "${vmName}" runs on no host (phase ${cell(statusOf(vm)['phase'])}): nothing to migrate`);
  if (to !== undefined) {
    await mustGet(api, PluginResources.Host, namespace, to);
    if (to === from) throw new PluginError(`virtualmachine "${vmName}" already runs on host "${to}"`);
  }
  const created = await api.create(PluginResources.VirtualMachineMigration, namespace, {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'VirtualMachineMigration',
    // generateName keeps every request a record of its own (migrations are kept after they finish).
    metadata: { generateName: `${vmName.slice(0, 50)}-migration-`, namespace },
    spec: { vmName, ...(to !== undefined ? { targetHost: to } : {}) },
  });
  return `virtualmachinemigration.drover.io/${created.metadata.name} created: ${vmName} from ${from} to ${to ?? '(the scheduler picks)'}`;
}

/** `maintenance HOST on|off`: merge-patches spec.maintenance. */
export async function maintenance(api: PluginApi, namespace: string, host: string, on: boolean): Promise<string> {
  const obj = await mustGet(api, PluginResources.Host, namespace, host);
  if (specOf(obj)['maintenance'] === on) return `host.drover.io/${host} maintenance already ${on ? 'on' : 'off'} (phase ${cell(statusOf(obj)['phase'])})`;
  await api.mergePatch(PluginResources.Host, namespace, host, { spec: { maintenance: on } });
  return `host.drover.io/${host} maintenance ${on ? 'on: its VMs are drained to other hosts' : 'off'}`;
}

/** `status`: the environment at a glance. */
export async function status(api: PluginApi, namespace: string): Promise<string> {
  const [managers, hosts, domains, vms, migrations] = await Promise.all([
    api.list(PluginResources.Manager, namespace),
    api.list(PluginResources.Host, namespace),
    api.list(PluginResources.StorageDomain, namespace),
    api.list(PluginResources.VirtualMachine, namespace),
    api.list(PluginResources.VirtualMachineMigration, namespace),
  ]);
  const byName = (a: KubeObject, b: KubeObject) => a.metadata.name.localeCompare(b.metadata.name);
  const parts: string[] = [];
  parts.push(
    managers.length === 0
      ? `No Manager in namespace ${namespace}.`
      : table(
          ['MANAGER', 'MODE', 'READY', 'HA', 'HOSTS UP', 'VMS RUNNING'],
          managers.sort(byName).map((m) => {
            const s = statusOf(m);
            return [m.metadata.name, cell(specOf(m)['mode']), conditionStatus(s, 'Ready'), conditionStatus(s, 'HighlyAvailable'), `${cell(s['hosts']?.up)}/${cell(s['hosts']?.total)}`, `${cell(s['virtualMachines']?.running)}/${cell(s['virtualMachines']?.total)}`];
          }),
        ),
  );
  parts.push(
    table(
      ['HOST', 'ADDRESS', 'PHASE', 'VMS', 'MAINTENANCE'],
      hosts.sort(byName).map((h) => [h.metadata.name, cell(specOf(h)['address']), cell(statusOf(h)['phase']), cell(statusOf(h)['usage']?.runningVMs), String(specOf(h)['maintenance'] ?? false)]),
    ),
  );
  parts.push(
    table(
      ['STORAGE DOMAIN', 'TYPE', 'ROLE', 'PHASE', 'FREE', 'TOTAL'],
      domains.sort(byName).map((d) => [d.metadata.name, cell(specOf(d)['type']), cell(specOf(d)['role']), cell(statusOf(d)['phase']), cell(statusOf(d)['capacity']?.free), cell(statusOf(d)['capacity']?.total)]),
    ),
  );
  parts.push(
    table(
      ['VM', 'PHASE', 'HOST', 'READY', 'STRATEGY'],
      vms.sort(byName).map((v) => [v.metadata.name, cell(statusOf(v)['phase']), cell(statusOf(v)['host']), conditionStatus(statusOf(v), 'Ready'), cell(specOf(v)['runStrategy'])]),
    ),
  );
  const active = migrations.filter((m) => !['Succeeded', 'Failed'].includes(String(statusOf(m)['phase'])));
  if (active.length > 0) {
    parts.push(
      table(
        ['MIGRATION', 'VM', 'PHASE', 'SOURCE', 'TARGET'],
        active.sort(byName).map((m) => [m.metadata.name, cell(specOf(m)['vmName']), cell(statusOf(m)['phase']), cell(statusOf(m)['sourceHost']), cell(statusOf(m)['targetHost'] ?? specOf(m)['targetHost'])]),
      ),
    );
  }
  return parts.join('\n\n');
}
