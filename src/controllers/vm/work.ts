/**
 * The state one VirtualMachine reconcile works on, and the small helpers
 * that change it (phase, conditions) and write it.
 */
import { setCondition, type Condition, type VirtualMachine, type VirtualMachineStatus, type VMPhase } from '../../api/index.js';
import type { KubeObject } from '../../kube/types.js';
import { Resources } from '../../operator/resources.js';
import { writeStatusIfChanged } from '../../operator/status.js';
import { withReady } from '../common.js';
import type { OperatorContext } from '../context.js';
import type { BackgroundStarts, StartOutcome } from './start.js';

/** The state a reconcile works on and finally writes. */
export interface Work {
  ctx: OperatorContext;
  /** Starts run outside the workers, bounded per host (key: the Host's namespace/name). */
  starts: BackgroundStarts;
  /** VM UID → host this reconciler placed it on (outlives a cache that lags behind the placement write). */
  placements: Map<string, string>;
  /** VM UID → earliest next failover attempt (ms), after a start elsewhere was refused on the lease. */
  failoverNotBefore: Map<string, number>;
  object: KubeObject;
  vm: VirtualMachine;
  uid: string;
  previous: VirtualMachineStatus;
  status: VirtualMachineStatus;
  /** A background start's outcome this pass put into `status`: settled once the status is written. */
  appliedStart?: StartOutcome;
}

export function setPhase(w: Work, phase: VMPhase, ready: boolean, reason: string, message: string): void {
  w.status.phase = phase;
  w.status.conditions = withReady(w.ctx, w.object, w.status.conditions, ready, reason, message);
}

export function setCond(w: Work, type: string, ok: boolean, reason: string, message: string): void {
  w.status.conditions = setCondition(
    w.status.conditions,
    { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: w.object.metadata.generation },
    w.ctx.now(),
  );
}

export function dropCond(w: Work, type: string): void {
  w.status.conditions = w.status.conditions?.filter((c: Condition) => c.type !== type);
}

/**
 * Writes status; records an event when the phase changed, except to the
 * passing `Starting` (the Running or failure that follows says more, and at
 * 2,000 VMs it was 2,000 Event writes of a cold start's ~17,000 requests).
 */
export async function commit(w: Work): Promise<void> {
  // Guarded (as every status write): a pass that read the VM from a cache older than an earlier
  // pass's write (a background start's answer written a moment ago) must not put the older status back.
  const written = await writeStatusIfChanged(w.ctx.client, Resources.VirtualMachine, w.object, w.status);
  const wrote = written !== undefined;
  if (wrote && w.previous.phase !== w.status.phase && w.status.phase && w.status.phase !== 'Starting') {
    const where = w.status.host ? ` on ${w.status.host}` : '';
    w.ctx.events.event(w.object, w.status.phase === 'Failed' ? 'Warning' : 'Normal', w.status.phase, `VM is ${w.status.phase}${where}`);
  }
  if (w.appliedStart) {
    w.starts.settled(w.uid, w.appliedStart);
    delete w.appliedStart;
  }
  // The object now carries this status (and its new resourceVersion), for a second write within the same reconcile.
  w.object = { ...w.object, ...(written ? { metadata: { ...w.object.metadata, resourceVersion: written.metadata.resourceVersion } } : {}), status: structuredClone(w.status) };
  w.previous = structuredClone(w.status);
}

