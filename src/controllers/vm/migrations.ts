/** How the VM reconciler sees VirtualMachineMigrations: the one moving a VM right now. */
import type { MigrationStatus } from '../../api/index.js';
import type { OperatorContext } from '../context.js';

/** The VM's status.migration while a migration of `vmName` is Running. */
export function activeMigrationFor(
  ctx: OperatorContext,
  namespace: string | undefined,
  vmName: string,
): { name: string; sourceHost: string; targetHost: string; startTime: string } | undefined {
  for (const m of ctx.informers.migrations.list(namespace)) {
    if ((m.spec as { vmName?: string } | undefined)?.vmName !== vmName) continue;
    const s = (m.status ?? {}) as MigrationStatus;
    if (s.phase !== 'Running' || !s.sourceHost || !s.targetHost) continue;
    return { name: m.metadata.name, sourceHost: s.sourceHost, targetHost: s.targetHost, startTime: s.startTime ?? '' };
  }
  return undefined;
}
