/**
 * A VM paused because its storage failed (libvirt pauses the guest on an
 * I/O error with the disks' error policy `stop`) cannot resume on a host
 * that lost its storage. After `availability.pausedOnStorageErrorKillSeconds`
 * (oVirt: 80 s) it is powered off and counted as a failure, so its
 * runStrategy restarts it — on a host that reaches the storage, since the
 * one it was on is NonOperational by then.
 */
import type { VmInfo } from '../../api/agent/index.js';
import { metaTime } from '../../api/index.js';
import type { ReconcileResult } from '../../runtime/controller.js';
import { objectKey } from '../../runtime/keys.js';
import type { OperatorContext } from '../context.js';
import { managerSettings } from '../namespace.js';
import { setPhase, type Work } from './work.js';

/** True for a domain paused on an I/O error (libvirt's reason `ioerror`, virsh's "I/O error"). */
export function isStorageErrorPause(domain: VmInfo): boolean {
  if (domain.state !== 'paused') return false;
  const reason = (domain.reason ?? '').toLowerCase().replace(/[^a-z]/g, '');
  return reason === 'ioerror';
}

/** Waits out the grace period of a storage-error pause, then kills the VM. */
export async function storageErrorPause(
  w: Work,
  host: string,
  client: NonNullable<ReturnType<OperatorContext['agents']['client']>>,
): Promise<ReconcileResult | void> {
  const { ctx, object, uid } = w;
  const killAfterMs = managerSettings(ctx, object.metadata.namespace).availability.pausedOnStorageErrorKillSeconds * 1000;
  const since = w.status.pausedOnStorageErrorSince ?? metaTime(ctx.now());
  w.status.pausedOnStorageErrorSince = since;
  const left = Date.parse(since) + killAfterMs - ctx.now().getTime();
  if (left > 0) {
    setPhase(w, 'Paused', false, 'PausedOnStorageError', `paused on ${host} by a storage I/O error since ${since}; powered off in ${Math.ceil(left / 1000)} s unless it resumes`);
    return { requeueAfter: left + 50 };
  }
  await client.destroyVm(uid);
  void ctx.agents.refresh(objectKey(object.metadata.namespace, host));
  delete w.status.pausedOnStorageErrorSince;
  delete w.status.runningSpecHash;
  // A failure for RerunOnFailure, whatever libvirt calls the stop ("destroyed").
  w.status.lastStopReason = 'Failed';
  ctx.events.event(object, 'Warning', 'KilledOnStorageError', `powered off on ${host} after ${killAfterMs / 1000} s paused on a storage error, to restart where the storage is reachable`);
  setPhase(w, 'Failed', false, 'KilledOnStorageError', `powered off on ${host}: paused on a storage error for ${killAfterMs / 1000} s`);
  // Soon, not at once: the next pass should see this write in the cache.
  return { requeueAfter: 1_000 };
}
