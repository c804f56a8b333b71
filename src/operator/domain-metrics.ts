/**
 * Metrics about the environment itself (hosts, VMs, storage, migrations,
 * Managers), computed from the informer caches at scrape time: the
 * reconcilers do nothing for them, and a scrape costs one pass over the cache.
 *
 * Shaped like kube-state-metrics: one 0/1 series per object and phase, one per
 * object, condition type and status. Only the leading replica exports them
 * (standbys have warm caches too), so every series has one source and alerts
 * need no deduplication.
 */
import {
  HOST_PHASES,
  MIGRATION_PHASES,
  STORAGE_DOMAIN_PHASES,
  VM_PHASES,
  parseQuantity,
  type Condition,
} from '../api/index.js';
import type { Informers } from '../controllers/context.js';
import type { Informer } from '../kube/informer.js';
import type { KubeObject } from '../kube/types.js';
import type { Gauge, Registry } from '../runtime/metrics.js';

/** Where the domain metrics read from. */
export interface DomainMetricsSource {
  informers: Informers;
  /** False on a standby replica: nothing is exported. */
  active: () => boolean;
}

/** Names of the families {@link registerDomainMetrics} registers. */
export const DOMAIN_METRICS = {
  hostPhase: 'drover_host_status_phase',
  hostCondition: 'drover_host_status_condition',
  vmPhase: 'drover_virtualmachine_status_phase',
  vmCondition: 'drover_virtualmachine_status_condition',
  storagePhase: 'drover_storagedomain_status_phase',
  storageCondition: 'drover_storagedomain_status_condition',
  storageCapacity: 'drover_storagedomain_capacity_bytes',
  storageFree: 'drover_storagedomain_free_bytes',
  storageLowSpace: 'drover_storagedomain_low_space_warning_ratio',
  managerCondition: 'drover_manager_status_condition',
  migrations: 'drover_virtualmachinemigrations',
  hostFencing: 'drover_host_fencing_state',
  hostFencedTime: 'drover_host_last_fenced_timestamp_seconds',
  vmFailover: 'drover_virtualmachine_failover_in_progress',
} as const;

/** Host status.fencing states (src/api/host.ts). */
const FENCING_STATES = ['Idle', 'Skipped', 'SoftFencing', 'PowerFencing', 'Fenced', 'Failed'] as const;

interface Status {
  phase?: string;
  conditions?: Condition[];
  capacity?: { total?: string; free?: string };
}

const statusOf = (o: KubeObject): Status => (o.status ?? {}) as Status;
const id = (o: KubeObject) => ({ namespace: o.metadata.namespace ?? '', name: o.metadata.name });

/** A gauge rebuilt from the cache at every scrape (stale series of deleted objects vanish). */
function cacheGauge<L extends string>(
  registry: Registry,
  source: DomainMetricsSource,
  name: string,
  help: string,
  labelNames: readonly L[],
  fill: (gauge: Gauge<L>) => void,
): void {
  registry.gauge<L>({
    name,
    help,
    labelNames,
    collect: (gauge) => {
      gauge.reset();
      if (source.active()) fill(gauge);
    },
  });
}

function phaseGauge(registry: Registry, source: DomainMetricsSource, name: string, kind: string, informer: () => Informer, phases: readonly string[]): void {
  cacheGauge(registry, source, name, `The ${kind}'s phase: 1 for the current one, 0 for the others`, ['namespace', 'name', 'phase'], (g) => {
    for (const o of informer().list()) {
      const current = statusOf(o).phase;
      for (const phase of phases) g.set({ ...id(o), phase }, phase === current ? 1 : 0);
    }
  });
}

function conditionGauge(registry: Registry, source: DomainMetricsSource, name: string, kind: string, informer: () => Informer): void {
  cacheGauge(
    registry,
    source,
    name,
    `The ${kind}'s status conditions: 1 for the condition's current status (true, false, unknown), 0 for the others`,
    ['namespace', 'name', 'condition', 'status'],
    (g) => {
      for (const o of informer().list()) {
        for (const c of statusOf(o).conditions ?? []) {
          for (const status of ['true', 'false', 'unknown']) {
            g.set({ ...id(o), condition: c.type, status }, c.status.toLowerCase() === status ? 1 : 0);
          }
        }
      }
    },
  );
}

function bytes(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseQuantity(value);
  } catch {
    return undefined;
  }
}

function storageGauges(registry: Registry, source: DomainMetricsSource): void {
  const domains = () => source.informers.storageDomains.list();
  const capacity = (which: 'total' | 'free') => (g: Gauge<'namespace' | 'name'>) => {
    for (const o of domains()) {
      const v = bytes(statusOf(o).capacity?.[which]);
      if (v !== undefined) g.set(id(o), v);
    }
  };
  cacheGauge(registry, source, DOMAIN_METRICS.storageCapacity, 'Total size of the storage domain as its hosts report it, bytes', ['namespace', 'name'], capacity('total'));
  cacheGauge(registry, source, DOMAIN_METRICS.storageFree, 'Free space on the storage domain as its hosts report it, bytes', ['namespace', 'name'], capacity('free'));
  cacheGauge(
    registry,
    source,
    DOMAIN_METRICS.storageLowSpace,
    'spec.warningLowSpacePercent / 100: below this free ratio the domain reports LowSpace',
    ['namespace', 'name'],
    (g) => {
      for (const o of domains()) {
        const percent = (o.spec as { warningLowSpacePercent?: number } | undefined)?.warningLowSpacePercent ?? 10;
        g.set(id(o), percent / 100);
      }
    },
  );
}

/** Fencing of hosts and failovers of VMs (issue 5), from their status. */
function haGauges(registry: Registry, source: DomainMetricsSource): void {
  const i = source.informers;
  type Fencing = { state?: string; fencedTime?: string };
  const fencing = (o: KubeObject) => (o.status as { fencing?: Fencing } | undefined)?.fencing;
  cacheGauge(registry, source, DOMAIN_METRICS.hostFencing, "The Host's fencing state (status.fencing.state): 1 for the current one, 0 for the others", ['namespace', 'name', 'state'], (g) => {
    for (const o of i.hosts.list()) {
      const current = fencing(o)?.state ?? 'Idle';
      for (const state of FENCING_STATES) g.set({ ...id(o), state }, state === current ? 1 : 0);
    }
  });
  cacheGauge(registry, source, DOMAIN_METRICS.hostFencedTime, 'When the Host was last confirmed powered off by fencing (Unix time); absent if never', ['namespace', 'name'], (g) => {
    for (const o of i.hosts.list()) {
      const t = fencing(o)?.fencedTime;
      if (t !== undefined && Number.isFinite(Date.parse(t))) g.set(id(o), Date.parse(t) / 1000);
    }
  });
  cacheGauge(registry, source, DOMAIN_METRICS.vmFailover, 'A restart of the VM on another host is being attempted (status.failover): 1, labelled with the failed host', ['namespace', 'name', 'from_host'], (g) => {
    for (const o of i.virtualMachines.list()) {
      const f = (o.status as { failover?: { fromHost?: string } } | undefined)?.failover;
      if (f?.fromHost) g.set({ ...id(o), from_host: f.fromHost }, 1);
    }
  });
}

/**
 * Registers the environment's gauges on `registry`: phases and conditions of
 * Hosts, VirtualMachines, StorageDomains and Managers, storage capacity, and
 * VirtualMachineMigrations counted by phase.
 */
export function registerDomainMetrics(registry: Registry, source: DomainMetricsSource): void {
  const i = source.informers;
  phaseGauge(registry, source, DOMAIN_METRICS.hostPhase, 'Host', () => i.hosts, HOST_PHASES);
  conditionGauge(registry, source, DOMAIN_METRICS.hostCondition, 'Host', () => i.hosts);
  phaseGauge(registry, source, DOMAIN_METRICS.vmPhase, 'VirtualMachine', () => i.virtualMachines, VM_PHASES);
  conditionGauge(registry, source, DOMAIN_METRICS.vmCondition, 'VirtualMachine', () => i.virtualMachines);
  phaseGauge(registry, source, DOMAIN_METRICS.storagePhase, 'StorageDomain', () => i.storageDomains, STORAGE_DOMAIN_PHASES);
  conditionGauge(registry, source, DOMAIN_METRICS.storageCondition, 'StorageDomain', () => i.storageDomains);
  storageGauges(registry, source);
  conditionGauge(registry, source, DOMAIN_METRICS.managerCondition, 'Manager', () => i.managers);
  haGauges(registry, source);
  cacheGauge(
    registry,
    source,
    DOMAIN_METRICS.migrations,
    'VirtualMachineMigrations by phase (migrations are kept as records until deleted)',
    ['namespace', 'phase'],
    (g) => {
      const namespaces = new Set(i.migrations.list().map((o) => o.metadata.namespace ?? ''));
      for (const namespace of namespaces) for (const phase of MIGRATION_PHASES) g.set({ namespace, phase }, 0);
      for (const o of i.migrations.list()) {
        const phase = statusOf(o).phase ?? 'Pending';
        g.inc({ namespace: o.metadata.namespace ?? '', phase });
      }
    },
  );
}
