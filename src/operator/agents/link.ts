/**
 * One host's link: a heartbeat loop, one event stream while the agent
 * answers, and a single sync worker that relists what events and relists
 * say is stale. All three write the same {@link HostLink} view; a
 * `generation` number, bumped whenever the client is replaced, makes late
 * answers from a replaced client land nowhere.
 */
import type { Logger } from 'pino';
import type { AgentClient, AgentClientOptions, AgentClientTls } from '../../agent/client/index.js';
import { AgentApiError, parseEventId, type AgentEvent, type VmInfo } from '../../api/agent/index.js';
import { errorMessage as message } from '../../runtime/errors.js';
import { classifyFailure, endpoint, isAnswer } from './classify.js';
import { changedStorage, changedVms, deepEqual } from './compare.js';
import type { AgentApi, AgentLinkState, HostLink, HostTarget, LinkChange } from './types.js';

/** What a link needs from its client: the verbs, the event stream, and close. */
export type LinkClient = AgentApi & Pick<AgentClient, 'events' | 'close'>;

/**
 * `Last-Event-ID` sent on a link's first stream. It matches no agent boot, so
 * the agent answers `EventsLost` followed by everything its ring still holds:
 * the link learns the agent's boot id (from the ids, and from `AgentStarted`)
 * without waiting for the next event, and relists at once.
 */
export const RESYNC_EVENT_ID = 'resync';

/** More single-domain changes than this in one pass are cheaper as one list. */
const MAX_SINGLE_GETS = 8;

/** Shortest heartbeat interval accepted, so a bad value cannot spin. */
const MIN_INTERVAL_MS = 10;

/** Dependencies of a link, provided by the manager. */
export interface LinkDeps {
  tlsFor: (namespace: string) => Promise<AgentClientTls | undefined>;
  log: Logger;
  now: () => Date;
  createClient: (options: AgentClientOptions) => LinkClient;
  requestTimeoutMs: number;
  relistIntervalMs: number;
  emit: (change: LinkChange) => void;
}

/** Work for the sync worker; requests merge until the worker takes them. */
interface SyncWork {
  capabilities: boolean;
  storage: boolean;
  vms: boolean;
  /** Domains to re-read one by one (subsumed by `vms`). */
  uids: Set<string>;
  /** Notify the host and every domain afterwards (events may have been missed). */
  notifyAll: boolean;
  /** Notifications owed whatever the relist finds (the event itself is the change). */
  notify: Map<string, LinkChange>;
}

function emptyWork(): SyncWork {
  return { capabilities: false, storage: false, vms: false, uids: new Set(), notifyAll: false, notify: new Map() };
}

function isEmpty(w: SyncWork): boolean {
  return !w.capabilities && !w.storage && !w.vms && !w.notifyAll && w.uids.size === 0 && w.notify.size === 0;
}

function changeKey(c: LinkChange): string {
  switch (c.kind) {
    case 'host':
      return 'host';
    case 'storage':
      return `storage/${c.domain}`;
    default:
      return `${c.kind}/${c.uid}`;
  }
}

/** Same PEM material (TLS objects are often rebuilt with equal contents). */
function sameTls(a: AgentClientTls | undefined, b: AgentClientTls): boolean {
  if (a === undefined) return false;
  if (a === b) return true;
  const same = (x: string | Buffer, y: string | Buffer) => x === y || Buffer.from(x).equals(Buffer.from(y));
  return same(a.cert, b.cert) && same(a.key, b.key) && same(a.ca, b.ca);
}

/** The runtime of one Host's link. Created and driven by {@link AgentConnectionManager}. */
export class AgentLink {
  readonly key: string;
  private target: HostTarget;
  private view: HostLink;
  private readonly log: Logger;

  private client: LinkClient | undefined;
  private clientTls: AgentClientTls | undefined;
  /** Bumped whenever the client is replaced or dropped; answers from an older generation are ignored. */
  private generation = 0;
  private closed = false;

  private timer: NodeJS.Timeout | undefined;
  private heartbeatRun: Promise<void> | undefined;
  private heartbeatAgain = false;

  private stream: AbortController | undefined;
  /** Stream consumers still running (an aborted one ends shortly after); close() waits for them. */
  private readonly streamRuns = new Set<Promise<void>>();
  private lastEventId: string | undefined;

  private pending = emptyWork();
  private waiters: (() => void)[] = [];
  private syncRun: Promise<void> | undefined;
  /** performance.now() of the last complete storage + VM relist. */
  /** The domain list from before the link last failed, kept only to announce what changed meanwhile. */
  private vmsBeforeOutage: VmInfo[] | undefined;
  private lastRelistAt = Number.NEGATIVE_INFINITY;

  constructor(
    target: HostTarget,
    private readonly deps: LinkDeps,
  ) {
    this.key = `${target.namespace}/${target.name}`;
    this.target = { ...target };
    this.view = { key: this.key, state: 'Connecting' };
    this.log = deps.log.child({ host: this.key });
  }

  /** Starts the heartbeat loop (first beat now). */
  start(): void {
    this.kickHeartbeat();
  }

  /** Applies a (possibly) changed target: a new address or port reconnects, a new interval reschedules. */
  update(target: HostTarget): void {
    if (this.closed) return;
    const prev = this.target;
    this.target = { ...target };
    if (prev.address !== target.address || prev.port !== target.port) {
      this.log.info({ from: endpoint(prev.address, prev.port), to: endpoint(target.address, target.port) }, 'agent address changed, reconnecting');
      this.dropClient();
      this.set({ state: 'Connecting' });
      this.kickHeartbeat();
    } else if (prev.heartbeatIntervalMs !== target.heartbeatIntervalMs && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.scheduleHeartbeat();
    }
  }

  /** The latest view (a copy: readers cannot change the link). */
  snapshot(): HostLink {
    return { ...this.view };
  }

  /** The current client, when the link has credentials. */
  api(): AgentApi | undefined {
    return this.client;
  }

  /** Relists storage and VMs (and capabilities when asked); resolves after one attempt (a failure is logged and retried after the next heartbeat). */
  refresh(options: { capabilities?: boolean } = {}): Promise<void> {
    if (this.closed || this.client === undefined) return Promise.resolve();
    return this.request({ storage: true, vms: true, ...(options.capabilities ? { capabilities: true } : {}) }, true);
  }

  /** Stops every loop, closes the client and waits for what was running to end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dropClient();
    this.resolveWaiters();
    await Promise.all([this.heartbeatRun, this.syncRun, ...this.streamRuns]);
  }

  // ---- view ----------------------------------------------------------------

  /** Writes fields; returns true when any of them changed (and then notifies the host). */
  private set(patch: Partial<Omit<HostLink, 'key'>>): boolean {
    const next: HostLink = { ...this.view };
    let changed = false;
    for (const [k, v] of Object.entries(patch) as [keyof HostLink, unknown][]) {
      if (deepEqual(next[k], v)) continue;
      changed = true;
      if (v === undefined) delete next[k];
      else (next as unknown as Record<string, unknown>)[k] = v;
    }
    if (changed) {
      this.view = next;
      this.emit({ kind: 'host', key: this.key });
    }
    return changed;
  }

  private emit(change: LinkChange): void {
    if (!this.closed) this.deps.emit(change);
  }

  // ---- client --------------------------------------------------------------

  private newClient(tls: AgentClientTls): LinkClient {
    this.dropClient();
    this.client = this.deps.createClient({
      host: this.target.address,
      port: this.target.port,
      tls,
      expectedName: this.target.name,
      // Read at each handshake: a renewal recorded later tightens it without a reconnect.
      issuedNotBefore: () => this.target.certificateIssuedNotBefore,
      timeoutMs: this.deps.requestTimeoutMs,
    });
    this.clientTls = tls;
    return this.client;
  }

  /** Closes the client and its stream; whatever they still answer is ignored. */
  private dropClient(): void {
    this.generation += 1;
    this.stopStream();
    this.client?.close();
    this.client = undefined;
    this.clientTls = undefined;
  }

  private stale(generation: number): boolean {
    return this.closed || generation !== this.generation;
  }

  // ---- heartbeat -----------------------------------------------------------

  /** Runs a heartbeat now, or right after the one in flight. */
  private kickHeartbeat(): void {
    if (this.closed) return;
    if (this.heartbeatRun !== undefined) {
      this.heartbeatAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.heartbeatRun = this.heartbeat()
      // A bug here must not become an unhandled rejection that stops the operator.
      .catch((error: unknown) => this.log.error({ err: message(error) }, 'heartbeat failed unexpectedly'))
      .finally(() => {
        this.heartbeatRun = undefined;
        if (this.closed) return;
        if (this.heartbeatAgain) {
          this.heartbeatAgain = false;
          this.kickHeartbeat();
        } else {
          this.scheduleHeartbeat();
        }
      });
  }

  private scheduleHeartbeat(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kickHeartbeat();
    }, Math.max(MIN_INTERVAL_MS, this.target.heartbeatIntervalMs));
    // The operator's shutdown closes links; a forgotten timer must not keep the process alive.
    this.timer.unref();
  }

  /** One beat: credentials, then `stats()`. Never throws. */
  private async heartbeat(): Promise<void> {
    const { namespace } = this.target;
    let tls: AgentClientTls | undefined;
    try {
      tls = await this.deps.tlsFor(namespace);
    } catch (error) {
      // A transient failure to read the CA must not cut a working link: keep the current material.
      this.log.warn({ err: message(error) }, 'cannot read the client credentials');
      tls = this.clientTls;
      if (tls === undefined) {
        this.fail('NoCredentials', `cannot read the operator's client certificate for namespace ${namespace}: ${message(error)}`);
        return;
      }
    }
    if (this.closed) return;
    if (tls === undefined) {
      if (this.client !== undefined) this.log.warn('client credentials are gone, closing the connection');
      this.dropClient();
      this.fail('NoCredentials', `no client certificate for namespace ${namespace} yet (the Manager's CA is not ready)`);
      return;
    }
    let client = this.client;
    if (client === undefined || !sameTls(this.clientTls, tls)) {
      if (client !== undefined) this.log.info('client credentials changed, reconnecting');
      client = this.newClient(tls);
    }

    const generation = this.generation;
    try {
      const stats = await client.stats();
      if (this.stale(generation)) return;
      this.alive({ stats });
    } catch (error) {
      if (this.stale(generation)) return;
      if (isAnswer(error)) {
        // The agent answered, with an error (e.g. 503 while libvirt is down): it is alive.
        this.alive({ lastError: `the agent at ${this.where()} answered ${error.status} ${error.reason}: ${error.message}` });
        return;
      }
      const verdict = classifyFailure(error, this.target.address, this.target.port);
      this.fail(verdict.state, verdict.message, verdict.code);
    }
  }

  private where(): string {
    return endpoint(this.target.address, this.target.port);
  }

  /** The agent answered a heartbeat. */
  private alive(patch: Pick<HostLink, 'stats'> | Pick<HostLink, 'lastError'>): void {
    const was = this.view.state;
    // A list from before the outage is not evidence of where domains run now:
    // it is dropped until the relist below brings a fresh one.
    if (was !== 'Connected' && this.view.vms !== undefined) this.vmsBeforeOutage = this.view.vms;
    const stale = was !== 'Connected' ? { vms: undefined } : {};
    this.set({ lastError: undefined, ...patch, ...stale, state: 'Connected', lastHeartbeat: this.deps.now(), failingSince: undefined });
    if (was !== 'Connected') {
      this.log.info({ address: this.where(), was }, 'agent connected');
      // A new connection: the stream (resuming where it left off) and everything read afresh.
      this.startStream();
      this.request({ capabilities: true, storage: true, vms: true });
    } else if (performance.now() - this.lastRelistAt >= this.deps.relistIntervalMs) {
      // The safety net: a relist catches whatever an event stream could have missed.
      this.request({ storage: true, vms: true });
    } else if (!isEmpty(this.pending)) {
      // Work that failed earlier is retried now that the agent answers.
      this.kickSync();
    }
  }

  /** A heartbeat failed (or there are no credentials). */
  private fail(state: Exclude<AgentLinkState, 'Connected' | 'Connecting'>, error: string, code?: string): void {
    const was = this.view.state;
    if (was === 'Connected') this.stopStream();
    // Set on the first failure and kept until an answer: how long the host has been failing.
    const failingSince = this.view.failingSince ?? this.deps.now();
    const changed = this.set({ state, lastError: error, failingSince });
    const fields = { state, was, code, error };
    if (was !== state) this.log.warn(fields, 'agent link failing');
    else if (changed) this.log.info(fields, 'agent link still failing, differently');
    else this.log.debug(fields, 'agent link still failing');
  }

  // ---- event stream --------------------------------------------------------

  private startStream(): void {
    this.stopStream();
    const client = this.client;
    if (client === undefined) return;
    const abort = new AbortController();
    this.stream = abort;
    const run = this.consume(client, this.generation, abort.signal).finally(() => this.streamRuns.delete(run));
    this.streamRuns.add(run);
  }

  private stopStream(): void {
    this.stream?.abort();
    this.stream = undefined;
  }

  private async consume(client: LinkClient, generation: number, signal: AbortSignal): Promise<void> {
    try {
      const events = client.events({
        signal,
        lastEventId: this.lastEventId ?? RESYNC_EVENT_ID,
        onDisconnect: (error) => {
          if (!signal.aborted) this.log.debug({ err: message(error) }, 'event stream disconnected, reconnecting');
        },
        onInvalid: (m) => this.log.debug({ event: m.event.slice(0, 64) }, 'skipped an event this operator does not know'),
      });
      for await (const event of events) {
        if (signal.aborted || this.stale(generation)) break;
        this.onEvent(event);
      }
    } catch (error) {
      if (!signal.aborted && !this.stale(generation)) this.log.warn({ err: message(error) }, 'event stream failed');
    }
  }

  private onEvent(event: AgentEvent): void {
    if ('id' in event) {
      this.lastEventId = event.id;
      const parsed = parseEventId(event.id);
      if (parsed !== undefined) this.noteBootId(parsed.bootId);
    }
    const key = this.key;
    switch (event.type) {
      case 'AgentStarted':
        this.noteBootId(event.bootId);
        this.request({ capabilities: true, storage: true, vms: true, notifyAll: true });
        break;
      case 'EventsLost':
        this.log.info({ reason: event.message }, 'events were missed, relisting');
        this.request({ capabilities: true, storage: true, vms: true, notifyAll: true });
        break;
      case 'VmLifecycle':
        this.request({ uids: [event.uid], notify: [{ kind: 'vm', key, uid: event.uid }] });
        break;
      case 'OrphanDomain':
        this.request({ uids: [event.uid] });
        break;
      case 'StorageDomainHealth':
        this.request({ storage: true, notify: [{ kind: 'storage', key, domain: event.domain }] });
        break;
      case 'MigrationFinished':
        // The domain left (or stayed): the VM list says which.
        this.request({ vms: true, notify: [{ kind: 'migration', key, uid: event.uid }] });
        break;
    }
  }

  /** A boot id from the stream; a different one than known means the agent restarted. */
  private noteBootId(bootId: string): void {
    const known = this.view.bootId;
    if (known === bootId) return;
    this.set({ bootId });
    if (known !== undefined) {
      this.log.info({ from: known, to: bootId }, 'agent restarted');
      this.request({ capabilities: true, storage: true, vms: true, notifyAll: true });
    }
  }

  // ---- sync worker ---------------------------------------------------------

  private request(
    work: { capabilities?: boolean; storage?: boolean; vms?: boolean; uids?: string[]; notifyAll?: boolean; notify?: LinkChange[] },
    wait = false,
  ): Promise<void> {
    const p = this.pending;
    p.capabilities ||= work.capabilities ?? false;
    p.storage ||= work.storage ?? false;
    p.vms ||= work.vms ?? false;
    p.notifyAll ||= work.notifyAll ?? false;
    for (const uid of work.uids ?? []) p.uids.add(uid);
    for (const c of work.notify ?? []) p.notify.set(changeKey(c), c);
    const done = wait ? new Promise<void>((resolve) => this.waiters.push(resolve)) : Promise.resolve();
    this.kickSync();
    return done;
  }

  private kickSync(): void {
    if (this.closed || this.syncRun !== undefined) return;
    this.syncRun = this.drain()
      .catch((error: unknown) => this.log.error({ err: message(error) }, 'agent sync failed unexpectedly'))
      .finally(() => {
        this.syncRun = undefined;
      });
  }

  private resolveWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Runs pending work until none is left or an attempt fails (then it waits for the next answered heartbeat). */
  private async drain(): Promise<void> {
    try {
      while (!this.closed && this.client !== undefined && !isEmpty(this.pending)) {
        const work = this.pending;
        this.pending = emptyWork();
        const waiters = this.waiters;
        this.waiters = [];
        const ok = await this.perform(this.client, this.generation, work);
        for (const w of waiters) w();
        if (!ok) break;
      }
    } finally {
      // A refresh() waits for one attempt, never for the agent to come back.
      this.resolveWaiters();
    }
  }

  /** One pass over `work`; returns false when a call failed (what was not done is pending again). */
  private async perform(client: LinkClient, generation: number, work: SyncWork): Promise<boolean> {
    const changes = new Map<string, LinkChange>(work.notify);
    const add = (c: LinkChange) => changes.set(changeKey(c), c);
    const key = this.key;
    const done = { capabilities: false, storage: false, vms: false };
    const vmsBefore = this.view.vms ?? this.vmsBeforeOutage ?? [];
    try {
      if (work.capabilities) {
        const capabilities = await client.capabilities();
        if (this.stale(generation)) return true;
        this.set({ capabilities });
        done.capabilities = true;
      }
      if (work.storage) {
        const { items } = await client.listStorageDomains();
        if (this.stale(generation)) return true;
        const first = this.view.storage === undefined;
        const changed = changedStorage(this.view.storage, items);
        // Kept even when nothing significant changed: readers see current capacity and latency.
        this.view = { ...this.view, storage: items };
        for (const domain of changed) add({ kind: 'storage', key, domain });
        // The Host's status lists its storage connections.
        if (first || changed.length > 0) add({ kind: 'host', key });
        done.storage = true;
      }
      if (work.vms || work.uids.size > MAX_SINGLE_GETS) {
        const { items } = await client.listVms();
        if (this.stale(generation)) return true;
        this.applyVms(items, add);
        done.vms = true;
      } else {
        for (const uid of work.uids) {
          let vm: VmInfo | undefined;
          try {
            vm = await client.getVm(uid);
          } catch (error) {
            if (!(error instanceof AgentApiError && error.status === 404)) throw error;
          }
          if (this.stale(generation)) return true;
          // Without a full list (just reconnected) one domain is no list: the pending relist brings it.
          if (this.view.vms === undefined) continue;
          const others = this.view.vms.filter((v) => v.uid !== uid);
          this.applyVms(vm === undefined ? others : [...others, vm], add);
          work.uids.delete(uid);
        }
        done.vms = true;
      }
      if (work.storage && work.vms) this.lastRelistAt = performance.now();
      if (this.view.state === 'Connected') this.view = { ...this.view, lastHeartbeat: this.deps.now() };
      if (work.notifyAll) {
        add({ kind: 'host', key });
        for (const uid of new Set([...vmsBefore.map((v) => v.uid), ...(this.view.vms ?? []).map((v) => v.uid)])) add({ kind: 'vm', key, uid });
      }
      return true;
    } catch (error) {
      if (this.stale(generation)) return true;
      this.log.debug({ err: message(error) }, 'relist failed, retrying after the next heartbeat');
      // What is not done is owed again; notifications owed by events go out now (below) and are not repeated.
      this.request0({
        capabilities: work.capabilities && !done.capabilities,
        storage: work.storage && !done.storage,
        vms: work.vms && !done.vms,
        uids: done.vms ? [] : [...work.uids],
        notifyAll: work.notifyAll,
      });
      return false;
    } finally {
      if (!this.stale(generation)) for (const c of changes.values()) this.emit(c);
    }
  }

  /** Merges work back without starting the worker (it is running). */
  private request0(work: { capabilities: boolean; storage: boolean; vms: boolean; uids: string[]; notifyAll: boolean }): void {
    const p = this.pending;
    p.capabilities ||= work.capabilities;
    p.storage ||= work.storage;
    p.vms ||= work.vms;
    p.notifyAll ||= work.notifyAll;
    for (const uid of work.uids) p.uids.add(uid);
  }

  /** Replaces the domain list and records which changed. */
  private applyVms(next: VmInfo[], add: (c: LinkChange) => void): void {
    // After an outage, changes are announced against the last list seen before it.
    const changed = changedVms(this.view.vms ?? this.vmsBeforeOutage, next);
    this.view = { ...this.view, vms: next };
    this.vmsBeforeOutage = undefined;
    for (const uid of changed) add({ kind: 'vm', key: this.key, uid });
  }
}
