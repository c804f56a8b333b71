/**
 * VirtualMachineMigration reconciler: validates the request and checks its VM.
 * A migration waits (Pending) while its VM doesn't exist or isn't Running.
 */
import { migrationObject, type MigrationStatus } from '../api/index.js';
import type { Reconciler } from '../runtime/controller.js';
import { objectKey } from '../runtime/keys.js';
import { Resources } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { validateOrReport, withReady } from './common.js';
import type { OperatorContext } from './context.js';

/** The VirtualMachineMigration reconciler. */
export function migrationReconciler(ctx: OperatorContext): Reconciler {
  return async (key) => {
    const object = ctx.informers.migrations.get(key);
    if (!object) return;
    const migration = await validateOrReport(ctx, Resources.VirtualMachineMigration, object, migrationObject);
    if (!migration) return;
    const previous = (object.status ?? {}) as MigrationStatus;
    if (previous.phase === 'Succeeded' || previous.phase === 'Failed') return;
    const vm = ctx.informers.virtualMachines.get(objectKey(object.metadata.namespace, migration.spec.vmName));
    const vmStatus = (vm?.status ?? {}) as { phase?: string; host?: string };
    const ready: [boolean, string, string] = !vm
      ? [false, 'VMNotFound', `VirtualMachine ${migration.spec.vmName} does not exist`]
      : vmStatus.phase !== 'Running'
        ? [false, 'VMNotRunning', `VirtualMachine ${migration.spec.vmName} is ${vmStatus.phase ?? 'not yet reconciled'}, not Running`]
        : [false, 'Pending', 'waiting for a migration slot'];
    const status: MigrationStatus = {
      ...previous,
      observedGeneration: object.metadata.generation,
      phase: 'Pending',
      ...(vmStatus.host ? { sourceHost: vmStatus.host } : {}),
      conditions: withReady(ctx, object, previous.conditions, ...ready),
    };
    await writeStatusIfChanged(ctx.client, Resources.VirtualMachineMigration, object, status);
  };
}
