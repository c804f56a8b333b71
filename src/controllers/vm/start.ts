/**
 * Creating a VM's disks, defining and starting its domain on one host, with
 * at most a few starts per host at once.
 */
import { ConditionType, metaTime } from '../../api/index.js';
import type { ReconcileResult } from '../../runtime/controller.js';
import { objectKey } from '../../runtime/keys.js';
import type { OperatorContext } from '../context.js';
import { diskVolumes, toAgentSpec } from './agent-spec.js';
import { setCond, setPhase, type Work } from './work.js';

/** Creates the disks, defines and starts the domain on `host`. */
export async function start(
  w: Work,
  host: string,
  client: NonNullable<ReturnType<OperatorContext['agents']['client']>>,
  spec: ReturnType<typeof toAgentSpec>,
  hash: string,
): Promise<ReconcileResult | void> {
  const { object, uid } = w;
  return w.starts.run(objectKey(object.metadata.namespace, host), () => createAndStart(w, host, client, spec, hash, diskVolumes(w.vm, uid)));
}

/** {@link start}'s agent calls, run while holding one of the host's start slots. */
async function createAndStart(
  w: Work,
  host: string,
  client: NonNullable<ReturnType<OperatorContext['agents']['client']>>,
  spec: ReturnType<typeof toAgentSpec>,
  hash: string,
  disks: ReturnType<typeof diskVolumes>,
): Promise<ReconcileResult | void> {
  const { ctx, object, vm, uid } = w;
  const created = new Set((w.status.disks ?? []).filter((d) => d.created).map((d) => d.name));
  for (const d of disks) {
    if (created.has(d.name)) continue;
    await client.createVolume(d.storageDomain, d.volume, { sizeBytes: d.sizeBytes });
  }
  w.status.disks = disks.map((d) => ({ name: d.name, storageDomain: d.storageDomain, volume: d.volume, created: true }));
  const restarting = w.previous.phase === 'Stopped' || w.previous.phase === 'Failed' || w.status.lastStopReason !== undefined;
  setPhase(w, 'Starting', false, 'Starting', `starting on ${host}`);
  await client.defineVm(uid, spec);
  const info = await client.startVm(uid);
  // The start answer is the domain's state; the link catches up in the background
  // (waiting for a full relist here held a worker for seconds per VM). A pass that
  // still sees the old list only repeats idempotent verbs on this same host.
  void ctx.agents.refresh(objectKey(object.metadata.namespace, host));
  w.status.runningGeneration = object.metadata.generation;
  w.status.runningSpecHash = hash;
  w.status.startTime = metaTime(ctx.now());
  setCond(w, ConditionType.RestartRequired, false, 'AsStarted', 'running the current definition');
  if (info.state === 'running' || info.state === 'blocked') {
    setPhase(w, 'Running', true, 'Running', `running on ${host}`);
    if (restarting) ctx.events.event(object, 'Normal', 'Restarted', `VM restarted on ${host} (runStrategy ${vm.spec.runStrategy}, last stop: ${w.status.lastStopReason ?? 'none'})`);
  }
  // A restart re-arms RerunOnFailure: the next clean stop counts again.
  delete w.status.lastStopReason;
}

