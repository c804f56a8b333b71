/**
 * Wires informers to controllers: each controller's own kind enqueues its
 * key (on spec, metadata or deletion changes, not on the status it writes),
 * and the kinds it depends on enqueue the objects they affect.
 */
import type { KubeObject } from '../kube/types.js';
import { objectKey } from '../kube/informer.js';
import type { Informer } from '../kube/informer.js';
import { Controller, type ControllerMetricsProvider } from '../runtime/controller.js';
import { objectKey as keyOf, splitKey } from '../runtime/keys.js';
import { DRAIN_HOST_LABEL } from './host/drain.js';
import type { RateLimiter } from '../runtime/backoff.js';
import { hostReconciler } from './host.js';
import { managerReconciler } from './manager.js';
import { migrationReconciler } from './migration.js';
import { storageDomainReconciler } from './storagedomain.js';
import { DEFAULT_HOST_START_CONCURRENCY, DEFAULT_START_CONCURRENCY, virtualMachineReconciler } from './virtualmachine.js';
import { BackgroundStarts } from './vm/start.js';
import { KeyedSemaphore } from '../runtime/keyed-semaphore.js';
import type { OperatorContext } from './context.js';
import { addVmIndexes, VMS_BY_HOST, VMS_UNPLACED } from './indexes.js';

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

/** Host status without the parts that move with every heartbeat. */
function hostStateOf(o: KubeObject): string {
  const { lastHeartbeatTime: _t, usage: _u, ...rest } = (o.status ?? {}) as Record<string, unknown>;
  return JSON.stringify(rest);
}

/** A Host change other objects care about: phase, capabilities, storage, spec or metadata, not a heartbeat. */
export function hostStateChanged(a: KubeObject, b: KubeObject): boolean {
  return hostStateOf(a) !== hostStateOf(b) || specOrMetadataChanged(a, b);
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

/**
 * Enqueues `targets(o)` whenever a dependency changes in a way `relevant` says matters;
 * with `delayMs`, after that delay, so a burst of changes costs one reconcile.
 */
function watchRelated(
  informer: Informer,
  controller: Controller,
  targets: (o: KubeObject) => string[],
  relevant: (oldO: KubeObject, newO: KubeObject) => boolean = () => true,
  delayMs = 0,
): void {
  const enqueue = (o: KubeObject) => {
    for (const key of targets(o)) {
      if (delayMs > 0) controller.enqueueAfter(key, delayMs);
      else controller.enqueue(key);
    }
  };
  informer.addHandlers({
    onAdd: enqueue,
    onUpdate: (oldO, newO) => {
      if (relevant(oldO, newO)) enqueue(newO);
    },
    onDelete: enqueue,
  });
}

/** Delay that batches reconciles caused by many dependents changing at once (VM events → Manager, Host). */
const DEPENDENCY_BATCH_MS = 1_000;

/** Options shared by every controller. */
export interface ControllerSetupOptions {
  metrics?: ControllerMetricsProvider;
  maxConcurrentReconciles?: number;
  /**
   * Workers of the VirtualMachine controller (default: maxConcurrentReconciles).
   * VM reconciles wait on agents for seconds, so they get their own, larger pool.
   */
  vmWorkers?: number;
  /**
   * Workers of the Host controller (default: maxConcurrentReconciles). Every
   * heartbeat is a Host reconcile and a status write: 100 hosts at 5 s are 20 a
   * second, more than 4 workers keep up with when the API server answers slowly.
   */
  hostWorkers?: number;
  /** Concurrent disk create + define + start per host (see VirtualMachineReconcilerOptions). */
  hostStartConcurrency?: number;
  /** Concurrent disk create + define + start on all hosts together (default {@link DEFAULT_START_CONCURRENCY}). */
  startConcurrency?: number;
  rateLimiter?: () => RateLimiter;
}

/** Creates the five controllers and connects them to the informers (not started). */
export function createControllers(ctx: OperatorContext, options: ControllerSetupOptions = {}): Controller[] {
  const make = (name: string, reconcile: ReturnType<typeof managerReconciler>, workers = options.maxConcurrentReconciles) =>
    new Controller({
      name,
      reconcile,
      logger: ctx.log,
      metrics: options.metrics,
      maxConcurrentReconciles: workers,
      rateLimiter: options.rateLimiter?.(),
    });
  const managers = make('manager', managerReconciler(ctx));
  const hosts = make('host', hostReconciler(ctx), options.hostWorkers ?? options.maxConcurrentReconciles);
  const domains = make('storagedomain', storageDomainReconciler(ctx));
  // VM starts run outside the VM workers, bounded per host; each one's end reconciles its VM again.
  const starts = new BackgroundStarts(
    new KeyedSemaphore(options.hostStartConcurrency ?? DEFAULT_HOST_START_CONCURRENCY),
    true,
    undefined,
    new KeyedSemaphore(options.startConcurrency ?? DEFAULT_START_CONCURRENCY),
  );
  const vms = make('virtualmachine', virtualMachineReconciler(ctx, { starts }), options.vmWorkers ?? options.maxConcurrentReconciles);
  starts.wake = (key) => vms.enqueue(key);
  const migrations = make('virtualmachinemigration', migrationReconciler(ctx));
  const { informers } = ctx;

  const keysIn = (informer: Informer, ns: string | undefined, filter: (o: KubeObject) => boolean = () => true) =>
    informer.list(ns).filter(filter).map(objectKey);
  const statusChanged = (a: KubeObject, b: KubeObject) => statusOf(a) !== statusOf(b) || specOrMetadataChanged(a, b);

  watchOwn(informers.managers, managers);
  // Managers summarise everything in their namespace.
  watchRelated(informers.hosts, managers, (o) => keysIn(informers.managers, o.metadata.namespace), hostStateChanged);
  watchRelated(informers.storageDomains, managers, (o) => keysIn(informers.managers, o.metadata.namespace), statusChanged);
  // Every VM status change moves the summary's counts: one reconcile per second at most, not one per VM
  // (each summary scans every VM, so per-VM reconciles made a cold start quadratic).
  watchRelated(informers.virtualMachines, managers, (o) => keysIn(informers.managers, o.metadata.namespace), statusChanged, DEPENDENCY_BATCH_MS);
  // A Manager's settings (heartbeats, timeouts) apply to its Hosts.
  watchRelated(informers.managers, hosts, (o) => keysIn(informers.hosts, o.metadata.namespace), specOrMetadataChanged);

  watchOwn(informers.hosts, hosts);
  // A VM leaving a host can complete that host's maintenance.
  watchRelated(informers.virtualMachines, hosts, (o) => {
    const host = (o.status as { host?: string } | undefined)?.host;
    return host ? [keyOf(o.metadata.namespace, host)] : [];
  }, statusChanged);

  // A drain migration moving along advances its host's maintenance.
  watchRelated(informers.migrations, hosts, (o) => {
    const host = o.metadata.labels?.[DRAIN_HOST_LABEL];
    return host ? [keyOf(o.metadata.namespace, host)] : [];
  }, statusChanged);
  // A storage domain becoming Active can make hosts NonOperational (or Up again).
  watchRelated(informers.storageDomains, hosts, (o) => keysIn(informers.hosts, o.metadata.namespace), statusChanged);

  watchOwn(informers.storageDomains, domains);
  watchRelated(informers.hosts, domains, (o) => keysIn(informers.storageDomains, o.metadata.namespace), hostStateChanged);
  // A VM going away can unblock a domain's deletion.
  watchRelated(informers.virtualMachines, domains, (o) =>
    keysIn(informers.storageDomains, o.metadata.namespace, (d) => Boolean(d.metadata.deletionTimestamp)),
  );

  watchOwn(informers.virtualMachines, vms);
  // Host changes can make unscheduled VMs schedulable.
  addVmIndexes(informers.virtualMachines);
  const unplacedKeys = (namespace: string | undefined) => informers.virtualMachines.byIndex(VMS_UNPLACED, namespace ?? '').map(objectKey);
  watchRelated(informers.hosts, vms, (o) => unplacedKeys(o.metadata.namespace), hostStateChanged);
  // VMs placed on a host react to its phase (Unknown when it stops answering, rescheduling on maintenance).
  watchRelated(informers.hosts, vms, (o) => informers.virtualMachines.byIndex(VMS_BY_HOST, objectKey(o)).map(objectKey), hostStateChanged);
  // A migration's progress decides the VM's phase and, at the end, its host.
  watchRelated(informers.migrations, vms, (o) => [keyOf(o.metadata.namespace, (o.spec as { vmName?: string } | undefined)?.vmName ?? '')].filter((k) => !k.endsWith('/')), statusChanged);
  watchRelated(informers.managers, vms, (o) => unplacedKeys(o.metadata.namespace), specOrMetadataChanged);

  watchOwn(informers.migrations, migrations);
  watchRelated(
    informers.virtualMachines,
    migrations,
    (o) => keysIn(informers.migrations, o.metadata.namespace, (m) => (m.spec as { vmName?: string } | undefined)?.vmName === o.metadata.name),
    statusChanged,
  );
  // Pending migrations wait for slots: a migration finishing frees one.
  watchRelated(informers.migrations, migrations, (o) => keysIn(informers.migrations, o.metadata.namespace, (m) => (m.status as { phase?: string } | undefined)?.phase === 'Pending'), statusChanged);

  // What the agents report: heartbeats and storage to Hosts (and domains), domain lifecycle to VMs.
  const vmKeyByUid = (namespace: string | undefined, uid: string) => {
    const vm = informers.virtualMachines.getByUid(uid);
    return vm && vm.metadata.namespace === namespace ? vm : undefined;
  };
  const unsubscribe = ctx.agents.onChange((change) => {
    const { namespace } = splitKey(change.key);
    switch (change.kind) {
      case 'host':
        hosts.enqueue(change.key);
        break;
      case 'storage':
        hosts.enqueue(change.key);
        for (const k of keysIn(informers.storageDomains, namespace)) domains.enqueue(k);
        break;
      case 'vm':
      case 'migration': {
        const vm = vmKeyByUid(namespace, change.uid);
        if (vm) vms.enqueue(objectKey(vm));
        if (vm && change.kind === 'migration') {
          for (const k of keysIn(informers.migrations, namespace, (m) => (m.spec as { vmName?: string }).vmName === vm.metadata.name)) migrations.enqueue(k);
        }
        // A draining host's progress follows its domains (a burst of domain events costs one
        // Host reconcile); otherwise the Host learns its VM count from the next heartbeat.
        if ((informers.hosts.get(change.key)?.spec as { maintenance?: boolean } | undefined)?.maintenance) hosts.enqueueAfter(change.key, DEPENDENCY_BATCH_MS);
        break;
      }
    }
  });
  hosts.onStop(unsubscribe);
  return [managers, hosts, domains, vms, migrations];
}
