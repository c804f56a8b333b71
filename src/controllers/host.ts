/**
 * Host reconciler. At this stage it validates the Host and reports where it
 * stands: a Host whose agent has not enrolled is Connecting (Ready=False);
 * one with spec.maintenance and no VMs is in Maintenance. Agent heartbeats,
 * capabilities and draining build on this phase logic.
 */
import { hostObject, type HostPhase, type HostStatus } from '../api/index.js';
import type { Reconciler } from '../runtime/controller.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { validateOrReport, withReady } from './common.js';
import type { OperatorContext } from './context.js';

/** The Host reconciler. */
export function hostReconciler(ctx: OperatorContext): Reconciler {
  return async (key) => {
    const object = ctx.informers.hosts.get(key);
    if (!object) return;
    const host = await validateOrReport(ctx, Resources.Host, object, hostObject);
    if (!host) return;
    const previous = (object.status ?? {}) as HostStatus;
    const vmsHere = ctx.informers.virtualMachines
      .list(object.metadata.namespace)
      .filter((vm) => (vm.status as { host?: string } | undefined)?.host === object.metadata.name)
      .filter((vm) => ['Running', 'Migrating', 'Paused', 'Starting'].includes((vm.status as { phase?: string }).phase ?? ''));
    let phase: HostPhase;
    let ready: [boolean, string, string];
    if (host.spec.maintenance && vmsHere.length === 0) {
      phase = 'Maintenance';
      ready = [false, 'Maintenance', 'the host is in maintenance: no VMs run here'];
    } else if (host.spec.maintenance) {
      phase = 'PreparingForMaintenance';
      ready = [false, 'PreparingForMaintenance', `waiting for ${vmsHere.length} VM(s) to leave the host`];
    } else {
      phase = 'Connecting';
      ready = [false, 'Connecting', `waiting for the host agent at ${host.spec.address}:${host.spec.port}`];
    }
    const status: HostStatus = {
      ...previous,
      observedGeneration: object.metadata.generation,
      phase,
      conditions: withReady(ctx, object, previous.conditions, ...ready),
    };
    if (await writeStatusIfChanged(ctx.client, Resources.Host, object, status) && previous.phase !== phase) {
      ctx.events.event(object, 'Normal', 'PhaseChanged', `Host is ${phase}`);
    }
  };
}
