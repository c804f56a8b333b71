/**
 * Wires informers to controllers: each controller's own kind enqueues its
 * key (on spec, metadata or deletion changes, not on the status it writes),
 * and the kinds it depends on enqueue the objects they affect.
 */
import type { KubeObject } from '../kube/types.js';
import { objectKey } from '../kube/informer.js';
import type { Informer } from '../kube/informer.js';
import { Controller, type ControllerMetricsProvider } from '../runtime/controller.js';
import { objectKey as keyOf } from '../runtime/keys.js';
import type { RateLimiter } from '../runtime/backoff.js';
import { hostReconciler } from './host.js';
import { managerReconciler } from './manager.js';
import { migrationReconciler } from './migration.js';
import { storageDomainReconciler } from './storagedomain.js';
import { virtualMachineReconciler } from './virtualmachine.js';
import type { OperatorContext } from './context.js';

/** True when an update matters to the object's own reconciler: anything but its status. */
export function specOrMetadataChanged(oldObject: KubeObject, newObject: KubeObject): boolean {
  const a = oldObject.metadata;
  const b = newObject.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? []) ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {}) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {})
  );
}

function statusOf(o: KubeObject): string {
  return JSON.stringify(o.status ?? null);
}

/** Enqueues the object itself on add, delete, and non-status updates. */
function watchOwn(informer: Informer, controller: Controller): void {
  informer.addHandlers({
    onAdd: (o) => controller.enqueue(objectKey(o)),
    onUpdate: (oldO, newO) => {
      if (specOrMetadataChanged(oldO, newO)) controller.enqueue(objectKey(newO));
    },
    onDelete: (o) => controller.enqueue(objectKey(o)),
  });
}

/** Enqueues `targets(o)` whenever a dependency changes in a way `relevant` says matters. */
function watchRelated(
  informer: Informer,
  controller: Controller,
  targets: (o: KubeObject) => string[],
  relevant: (oldO: KubeObject, newO: KubeObject) => boolean = () => true,
): void {
  const enqueue = (o: KubeObject) => {
    for (const key of targets(o)) controller.enqueue(key);
  };
  informer.addHandlers({
    onAdd: enqueue,
    onUpdate: (oldO, newO) => {
      if (relevant(oldO, newO)) enqueue(newO);
    },
    onDelete: enqueue,
  });
}

/** Options shared by every controller. */
export interface ControllerSetupOptions {
  metrics?: ControllerMetricsProvider;
  maxConcurrentReconciles?: number;
  rateLimiter?: () => RateLimiter;
}

/** Creates the five controllers and connects them to the informers (not started). */
export function createControllers(ctx: OperatorContext, options: ControllerSetupOptions = {}): Controller[] {
  const make = (name: string, reconcile: ReturnType<typeof managerReconciler>) =>
    new Controller({
      name,
      reconcile,
      logger: ctx.log,
      metrics: options.metrics,
      maxConcurrentReconciles: options.maxConcurrentReconciles,
      rateLimiter: options.rateLimiter?.(),
    });
  const managers = make('manager', managerReconciler(ctx));
  const hosts = make('host', hostReconciler(ctx));
  const domains = make('storagedomain', storageDomainReconciler(ctx));
  const vms = make('virtualmachine', virtualMachineReconciler(ctx));
  const migrations = make('virtualmachinemigration', migrationReconciler(ctx));
  const { informers } = ctx;

  const keysIn = (informer: Informer, ns: string | undefined, filter: (o: KubeObject) => boolean = () => true) =>
    informer.list(ns).filter(filter).map(objectKey);
  const statusChanged = (a: KubeObject, b: KubeObject) => statusOf(a) !== statusOf(b) || specOrMetadataChanged(a, b);

  watchOwn(informers.managers, managers);
  // Managers summarise everything in their namespace.
  for (const dependency of [informers.hosts, informers.storageDomains, informers.virtualMachines]) {
    watchRelated(dependency, managers, (o) => keysIn(informers.managers, o.metadata.namespace), statusChanged);
  }

  watchOwn(informers.hosts, hosts);
  // A VM leaving a host can complete that host's maintenance.
  watchRelated(informers.virtualMachines, hosts, (o) => {
    const host = (o.status as { host?: string } | undefined)?.host;
    return host ? [keyOf(o.metadata.namespace, host)] : [];
  }, statusChanged);

  watchOwn(informers.storageDomains, domains);
  watchRelated(informers.hosts, domains, (o) => keysIn(informers.storageDomains, o.metadata.namespace), statusChanged);
  // A VM going away can unblock a domain's deletion.
  watchRelated(informers.virtualMachines, domains, (o) =>
    keysIn(informers.storageDomains, o.metadata.namespace, (d) => Boolean(d.metadata.deletionTimestamp)),
  );

  watchOwn(informers.virtualMachines, vms);
  // Host changes can make unscheduled VMs schedulable.
  const unplaced = (v: KubeObject) => !['Running', 'Migrating', 'Paused'].includes((v.status as { phase?: string } | undefined)?.phase ?? '');
  watchRelated(informers.hosts, vms, (o) => keysIn(informers.virtualMachines, o.metadata.namespace, unplaced), statusChanged);
  watchRelated(informers.managers, vms, (o) => keysIn(informers.virtualMachines, o.metadata.namespace, unplaced), specOrMetadataChanged);

  watchOwn(informers.migrations, migrations);
  watchRelated(
    informers.virtualMachines,
    migrations,
    (o) => keysIn(informers.migrations, o.metadata.namespace, (m) => (m.spec as { vmName?: string } | undefined)?.vmName === o.metadata.name),
    statusChanged,
  );
  return [managers, hosts, domains, vms, migrations];
}
