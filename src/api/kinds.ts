/**
 * The registry of Drover kinds: each kind's schemas plus what the CRD needs
 * beyond them (names, printer columns, root rules). `npm run gen:crds` turns
 * this into crds/*.yaml; the operator validates objects with the same schemas.
 */
import { z } from 'zod';
import { API_VERSION, objectMeta } from './common.js';
import { hostSpec, hostStatus } from './host.js';
import { managerSpec, managerStatus } from './manager.js';
import { migrationSpec, migrationStatus } from './migration.js';
import { storageDomainSpec, storageDomainStatus } from './storagedomain.js';
import { virtualMachineSpec, virtualMachineStatus } from './virtualmachine.js';
import type { Rule } from './rules.js';

/** A `kubectl get` column. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything needed to serve one kind. */
export interface KindDefinition<Spec extends z.ZodType = z.ZodType, Status extends z.ZodType = z.ZodType> {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  spec: Spec;
  status: Status;
  printerColumns: PrinterColumn[];
  /** Rules on the whole object (for example on metadata.name). */
  rootRules: Rule<{ metadata: { name: string } }>[];
}

const conditionColumn = (type: string, name = type): PrinterColumn => ({
  name,
  type: 'string',
  jsonPath: `.status.conditions[?(@.type=="${type}")].status`,
});
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/**
 * Names become libvirt domain names, host names and file names: a DNS label
 * (no dots, at most 63 characters) keeps them valid everywhere.
 */
const dnsLabelName: Rule<{ metadata: { name: string } }> = {
  cel: "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
  message: 'metadata.name must be a DNS-1123 label: at most 63 lower case letters, digits and "-"',
  check: (o) => o.metadata.name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name),
};

/** Manager */
export const managerKind = {
  kind: 'Manager',
  plural: 'managers',
  singular: 'manager',
  shortNames: ['mgr'],
  spec: managerSpec,
  status: managerStatus,
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
    conditionColumn('Ready'),
    conditionColumn('HighlyAvailable', 'HA'),
    { name: 'Hosts', type: 'integer', jsonPath: '.status.hosts.total' },
    { name: 'Up', type: 'integer', jsonPath: '.status.hosts.up' },
    { name: 'VMs', type: 'integer', jsonPath: '.status.virtualMachines.total' },
    { name: 'Running', type: 'integer', jsonPath: '.status.virtualMachines.running' },
    { name: 'Engine-Host', type: 'string', jsonPath: '.status.hostedEngine.host', priority: 1 },
    { name: 'Engine', type: 'string', jsonPath: '.status.hostedEngine.state', priority: 1 },
    age,
  ],
  rootRules: [dnsLabelName],
} satisfies KindDefinition;

/** Host */
export const hostKind = {
  kind: 'Host',
  plural: 'hosts',
  singular: 'host',
  shortNames: ['dhost'],
  spec: hostSpec,
  status: hostStatus,
  printerColumns: [
    { name: 'Address', type: 'string', jsonPath: '.spec.address' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    conditionColumn('Ready'),
    { name: 'VMs', type: 'integer', jsonPath: '.status.usage.runningVMs' },
    { name: 'Heartbeat', type: 'date', jsonPath: '.status.lastHeartbeatTime' },
    { name: 'Hypervisor', type: 'string', jsonPath: '.status.capabilities.hypervisorType', priority: 1 },
    { name: 'Maintenance', type: 'boolean', jsonPath: '.spec.maintenance', priority: 1 },
    age,
  ],
  rootRules: [dnsLabelName],
} satisfies KindDefinition;

/** StorageDomain */
export const storageDomainKind = {
  kind: 'StorageDomain',
  plural: 'storagedomains',
  singular: 'storagedomain',
  shortNames: ['sd'],
  spec: storageDomainSpec,
  status: storageDomainStatus,
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.spec.type' },
    { name: 'Role', type: 'string', jsonPath: '.spec.role' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Total', type: 'string', jsonPath: '.status.capacity.total' },
    { name: 'Free', type: 'string', jsonPath: '.status.capacity.free' },
    age,
  ],
  rootRules: [dnsLabelName],
} satisfies KindDefinition;

/** VirtualMachine */
export const virtualMachineKind = {
  kind: 'VirtualMachine',
  plural: 'virtualmachines',
  singular: 'virtualmachine',
  shortNames: ['dvm'],
  spec: virtualMachineSpec,
  status: virtualMachineStatus,
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Host', type: 'string', jsonPath: '.status.host' },
    conditionColumn('Ready'),
    { name: 'Strategy', type: 'string', jsonPath: '.spec.runStrategy', priority: 1 },
    { name: 'IP', type: 'string', jsonPath: '.status.interfaces[0].ipAddress', priority: 1 },
    { name: 'Restart', type: 'string', jsonPath: '.status.conditions[?(@.type=="RestartRequired")].status', priority: 1 },
    age,
  ],
  rootRules: [dnsLabelName],
} satisfies KindDefinition;

/** VirtualMachineMigration */
export const migrationKind = {
  kind: 'VirtualMachineMigration',
  plural: 'virtualmachinemigrations',
  singular: 'virtualmachinemigration',
  shortNames: ['dvmim'],
  spec: migrationSpec,
  status: migrationStatus,
  printerColumns: [
    { name: 'VM', type: 'string', jsonPath: '.spec.vmName' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Source', type: 'string', jsonPath: '.status.sourceHost' },
    { name: 'Target', type: 'string', jsonPath: '.status.targetHost' },
    age,
  ],
  rootRules: [dnsLabelName],
} satisfies KindDefinition;

/** Every kind, in the order CRDs are generated. */
export const KINDS = [managerKind, hostKind, storageDomainKind, virtualMachineKind, migrationKind] as const;

/** The zod schema of a whole object of a kind (envelope, spec, optional status). */
export function objectSchema<S extends z.ZodType, T extends z.ZodType>(def: KindDefinition<S, T>) {
  let schema = z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(def.kind),
    metadata: objectMeta,
    spec: def.spec,
    status: def.status.optional(),
  });
  for (const rule of def.rootRules) {
    schema = schema.superRefine((value, ctx) => {
      if (!rule.check(value)) ctx.addIssue({ code: 'custom', message: rule.message, path: ['metadata', 'name'] });
    }) as unknown as typeof schema;
  }
  return schema;
}

/** A Manager object. */
export const managerObject = objectSchema(managerKind);
/** A Host object. */
export const hostObject = objectSchema(hostKind);
/** A StorageDomain object. */
export const storageDomainObject = objectSchema(storageDomainKind);
/** A VirtualMachine object. */
export const virtualMachineObject = objectSchema(virtualMachineKind);
/** A VirtualMachineMigration object. */
export const migrationObject = objectSchema(migrationKind);

/** Manager as validated. */
export type Manager = z.infer<typeof managerObject>;
/** Host as validated. */
export type Host = z.infer<typeof hostObject>;
/** StorageDomain as validated. */
export type StorageDomain = z.infer<typeof storageDomainObject>;
/** VirtualMachine as validated. */
export type VirtualMachine = z.infer<typeof virtualMachineObject>;
/** VirtualMachineMigration as validated. */
export type VirtualMachineMigration = z.infer<typeof migrationObject>;
