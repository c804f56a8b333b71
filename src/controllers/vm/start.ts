/**
 * Creating a VM's disks, defining and starting its domain on one host, with
 * at most a few starts per host at once.
 *
 * Two ways to run it: {@link start} awaits the agent inside the reconcile
 * (failover, which must see a LeaseHeld refusal at once), and
 * {@link startInBackground} hands the agent calls to a {@link BackgroundStarts}
 * and returns the worker at once: a burst of VMs then waits for the hosts'
 * start slots as cheap promises, not as VM workers blocked for seconds on
 * agents (the cause of the cold-start queue, docs/profiles.md). The start's
 * end enqueues the VM again, and that reconcile writes what the start
 * answered ({@link applyStartOutcome}); the agent's lifecycle event confirms.
 */
import type { VmInfo } from '../../api/agent/index.js';
import { ConditionType, metaTime, type VirtualMachineStatus } from '../../api/index.js';
import type { ReconcileResult } from '../../runtime/controller.js';
import type { KeyedSemaphore } from '../../runtime/keyed-semaphore.js';
import { objectKey } from '../../runtime/keys.js';
import type { OperatorContext } from '../context.js';
import { diskVolumes, type DiskVolume, toAgentSpec } from './agent-spec.js';
import { setCond, setPhase, type Work } from './work.js';

/** The one key of {@link BackgroundStarts.total}. */
const ALL = 'all';

type Client = NonNullable<ReturnType<OperatorContext['agents']['client']>>;

/** What a start that ran in the background found out, kept until the VM's next reconcile. */
export interface StartOutcome {
  host: string;
  /** Runtime spec hash and generation the domain was defined with. */
  hash: string;
  generation: number | undefined;
  /** Disks known to exist (volumes created before any failure). */
  disks: VirtualMachineStatus['disks'];
  /** Whether this was a restart (a stopped or failed VM coming back). */
  restarting: boolean;
  startTime: string;
  /** The agent's start answer; absent when the start failed. */
  info?: VmInfo;
  /** Why it failed. */
  error?: unknown;
}

/**
 * How long a start's answer outweighs a domain list that does not show the
 * domain running yet (the VM reconciler and the deletion branch both wait on it).
 */
export const START_CONFIRM_MS = 15_000;

/**
 * Starts that run outside the VM workers: per VM UID at most one in flight,
 * per host at most `slots.limit` at once; each end is recorded and wakes
 * the VM's key. Reconciles of a VM with a start in flight do nothing (see
 * {@link busy}); deletion waits for it.
 */
export class BackgroundStarts {
  private readonly inflight = new Map<string, string>();
  private readonly outcomes = new Map<string, StartOutcome>();
  private readonly recent = new Map<string, { host: string; at: number }>();

  /**
   * @param slots per-host start slots
   * @param inBackground false: starts are awaited inside the reconcile (for
   *   callers that run one reconcile at a time and look at its result, like
   *   the reconciler unit tests); true needs {@link wake} to reach the controller.
   * @param wake enqueues a VM key (set once the controller exists).
   * @param total bounds the starts of all hosts together (its one key is
   *   {@link ALL}): the hosts share storage (every disk create is a
   *   qemu-img on it), and without a bound a burst of 2,000 VMs put 400
   *   creates on it at once until they passed the agent timeout.
   */
  constructor(
    readonly slots: KeyedSemaphore,
    readonly inBackground = false,
    public wake: (vmKey: string) => void = () => undefined,
    readonly total?: KeyedSemaphore,
  ) {}

  /** Runs `fn` holding one of `hostKey`'s slots, then one of the total (in that order: a busy host never holds a total slot idle). */
  run<T>(hostKey: string, fn: () => Promise<T>): Promise<T> {
    const total = this.total;
    return this.slots.run(hostKey, total ? () => total.run(ALL, fn) : fn);
  }

  /** True while a start of VM `uid` runs or waits for a slot. */
  busy(uid: string): boolean {
    return this.inflight.has(uid);
  }

  /** Starts in flight (running or waiting for a host slot). */
  get size(): number {
    return this.inflight.size;
  }

  /** Runs `work` for `uid` on `hostKey`'s slots; its outcome waits in {@link take}. */
  launch(uid: string, hostKey: string, vmKey: string, work: () => Promise<StartOutcome>): void {
    if (this.inflight.has(uid)) return;
    this.inflight.set(uid, hostKey);
    void this.run(hostKey, work)
      .then((outcome) => {
        this.outcomes.set(uid, outcome);
        if (outcome.info) this.noteStarted(uid, outcome.host);
      })
      .finally(() => {
        this.inflight.delete(uid);
        this.wake(vmKey);
      });
  }

  /**
   * The outcome of a finished start of `uid`, kept until {@link settled}:
   * a pass that reads it may still fail before its status write lands, and
   * a lost outcome would leave the start's answer (start time, the restart
   * clearing lastStopReason) unwritten for good.
   */
  peek(uid: string): StartOutcome | undefined {
    return this.outcomes.get(uid);
  }

  /** `outcome` is in the written status (or was an error, handled): forget it unless a newer one replaced it. */
  settled(uid: string, outcome: StartOutcome): void {
    if (this.outcomes.get(uid) === outcome) this.outcomes.delete(uid);
  }

  /**
   * Milliseconds left of `withinMs` after a start of `uid` on `host`
   * succeeded that no domain list has shown it running yet (0: none, or
   * confirmed, or too long ago). Meanwhile the link may still show the
   * domain as defined only, or not at all: its lifecycle event is on the way.
   */
  unconfirmedFor(uid: string, host: string, withinMs: number): number {
    const r = this.recent.get(uid);
    if (!r || r.host !== host) return 0;
    const left = r.at + withinMs - Date.now();
    if (left <= 0) this.recent.delete(uid);
    return Math.max(0, left);
  }

  /** The host of an unconfirmed start of `uid` (see {@link unconfirmedFor}), if any. */
  unconfirmedHost(uid: string, withinMs: number): string | undefined {
    const r = this.recent.get(uid);
    return r && this.unconfirmedFor(uid, r.host, withinMs) > 0 ? r.host : undefined;
  }

  /** A start of `uid` on `host` just succeeded (see {@link unconfirmedFor}). */
  noteStarted(uid: string, host: string): void {
    this.recent.set(uid, { host, at: Date.now() });
  }

  /** A domain list showed `uid` running: its start is confirmed. */
  confirmed(uid: string): void {
    this.recent.delete(uid);
  }

  /** Forgets what is kept about `uid` (the VM is gone). */
  forget(uid: string): void {
    this.outcomes.delete(uid);
    this.recent.delete(uid);
  }
}

/** The agent calls of a start: volumes not yet created, define, start. */
async function agentStart(client: Client, uid: string, spec: ReturnType<typeof toAgentSpec>, disks: DiskVolume[], created: Set<string>, onDisks: () => void): Promise<VmInfo> {
  for (const d of disks) {
    if (created.has(d.name)) continue;
    await client.createVolume(d.storageDomain, d.volume, { sizeBytes: d.sizeBytes });
  }
  onDisks();
  await client.defineVm(uid, spec);
  return client.startVm(uid);
}

function createdDisks(disks: DiskVolume[]): NonNullable<VirtualMachineStatus['disks']> {
  return disks.map((d) => ({ name: d.name, storageDomain: d.storageDomain, volume: d.volume, created: true }));
}

function isRestart(w: Work): boolean {
  return w.previous.phase === 'Stopped' || w.previous.phase === 'Failed' || w.status.lastStopReason !== undefined;
}

/** Writes a start's answer into the status being built. */
function recordStarted(w: Work, host: string, info: VmInfo, hash: string, generation: number | undefined, startTime: string, restarting: boolean): void {
  const { ctx, object, vm } = w;
  w.status.runningGeneration = generation;
  w.status.runningSpecHash = hash;
  w.status.startTime = startTime;
  setCond(w, ConditionType.RestartRequired, false, 'AsStarted', 'running the current definition');
  if (info.state === 'running' || info.state === 'blocked') {
    setPhase(w, 'Running', true, 'Running', `running on ${host}`);
    if (restarting) ctx.events.event(object, 'Normal', 'Restarted', `VM restarted on ${host} (runStrategy ${vm.spec.runStrategy}, last stop: ${w.status.lastStopReason ?? 'none'})`);
  }
  // A restart re-arms RerunOnFailure: the next clean stop counts again.
  delete w.status.lastStopReason;
}

/** Creates the disks, defines and starts the domain on `host`, awaiting the agent. */
export async function start(w: Work, host: string, client: Client, spec: ReturnType<typeof toAgentSpec>, hash: string): Promise<ReconcileResult | void> {
  const { ctx, object, uid } = w;
  const disks = diskVolumes(w.vm, uid);
  const created = new Set((w.status.disks ?? []).filter((d) => d.created).map((d) => d.name));
  const restarting = isRestart(w);
  const info = await w.starts.run(objectKey(object.metadata.namespace, host), () =>
    agentStart(client, uid, spec, disks, created, () => {
      w.status.disks = createdDisks(disks);
      setPhase(w, 'Starting', false, 'Starting', `starting on ${host}`);
    }),
  );
  // The start answer is the domain's state. The relist is not awaited (that held a worker
  // for seconds per VM); it is asked for because failover's next pass must not take a
  // returning host's stale definition for the VM before this host lists it.
  void ctx.agents.refresh(objectKey(object.metadata.namespace, host));
  w.starts.noteStarted(uid, host);
  recordStarted(w, host, info, hash, object.metadata.generation, metaTime(ctx.now()), restarting);
}

/**
 * Launches the start on `host` in the background and returns: the status
 * says Starting now, the VM's next reconcile (woken by the start's end)
 * writes the outcome.
 */
export function startInBackground(w: Work, host: string, client: Client, spec: ReturnType<typeof toAgentSpec>, hash: string): ReconcileResult | void {
  const { ctx, object, uid } = w;
  const disks = diskVolumes(w.vm, uid);
  const created = new Set((w.status.disks ?? []).filter((d) => d.created).map((d) => d.name));
  const restarting = isRestart(w);
  const generation = object.metadata.generation;
  setPhase(w, 'Starting', false, 'Starting', `starting on ${host}`);
  w.starts.launch(uid, objectKey(object.metadata.namespace, host), objectKey(object.metadata.namespace, object.metadata.name), async () => {
    let disksDone: VirtualMachineStatus['disks'];
    try {
      const info = await agentStart(client, uid, spec, disks, created, () => (disksDone = createdDisks(disks)));
      return { host, hash, generation, disks: disksDone, restarting, startTime: metaTime(ctx.now()), info };
    } catch (error) {
      return { host, hash, generation, disks: disksDone, restarting, startTime: metaTime(ctx.now()), error };
    }
  });
}

/**
 * Applies a background start's outcome to the status being built: the
 * disks it created, and what the start answered (Running at once: the
 * link may list the domain only a moment later). A failed start's error
 * is thrown, so the reconciler's error handling (refusals, backoff) applies.
 * Returns true when the outcome says the domain runs on `host`.
 */
export function applyStartOutcome(w: Work, host: string, outcome: StartOutcome): boolean {
  if (outcome.disks) w.status.disks = outcome.disks;
  if (outcome.error !== undefined) {
    // Handled by the reconcile's error path (refusal condition or backoff); the next pass starts again.
    w.starts.settled(w.uid, outcome);
    throw outcome.error;
  }
  w.appliedStart = outcome;
  if (outcome.host !== host || !outcome.info) return false;
  recordStarted(w, host, outcome.info, outcome.hash, outcome.generation, outcome.startTime, outcome.restarting);
  return true;
}
