/**
 * An in-memory ObjectClient for unit tests: objects per resource type, one
 * global resourceVersion counter (as etcd has), and watches the test controls.
 *
 * - Every write (create, applyStatus, setFinalizers, and the test-only
 *   `update`/`delete`/`setStatus`) bumps the counter, is kept in a per-type
 *   history and is delivered at once to the active watches of that type.
 * - A watch from resourceVersion N first replays the history after N (on the
 *   next macrotask, as a network stream would), then gets live events. After
 *   `compact()`, a watch from an older resourceVersion fails with 410 Gone:
 *   an ERROR event followed by the end of the stream (`goneMode: 'event'`, the
 *   watch cache's way) or onDone(ApiError 410) (`goneMode: 'http'`).
 * - Tests push events (`pushEvent`, `bookmark`, `sendError`), end watches
 *   with or without an error (`endWatches`) and make the next list or watch
 *   calls fail (`failNextList`, `failNextWatch`).
 * - `applyStatus` and `setFinalizers` are recorded in `calls` (status and
 *   finalizers as written), as are list and watch calls.
 *
 * Objects are cloned on the way in and out, so a caller mutating what it got
 * never changes the store (or an informer's cache) behind its back.
 */
import {
  ApiError,
  StaleObjectError,
  type KubeObject,
  type ObjectClient,
  type ResourceType,
  type WatchEvent,
  type WatchHandle,
} from '../../../src/kube/types.js';

/** A recorded list call. */
export interface ListCall {
  plural: string;
  namespace: string | undefined;
  /** performance.now() of the call. */
  at: number;
}
/** A recorded watch call. */
export interface WatchCall {
  plural: string;
  namespace: string | undefined;
  resourceVersion: string;
  /** performance.now() of the call. */
  at: number;
}
/** A recorded status write. */
export interface ApplyStatusCall {
  plural: string;
  namespace: string | undefined;
  name: string;
  status: unknown;
}
/** A recorded finalizer write. */
export interface SetFinalizersCall {
  plural: string;
  namespace: string | undefined;
  name: string;
  finalizers: string[];
}

interface ActiveWatch {
  plural: string;
  namespace: string | undefined;
  onEvent: (event: WatchEvent) => void;
  onDone: (error?: unknown) => void;
  done: boolean;
  /** Events waiting for the initial replay to be flushed; undefined once live. */
  queue: WatchEvent[] | undefined;
}

interface HistoryEntry {
  rv: number;
  namespace: string | undefined;
  event: WatchEvent;
}

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;
const clone = <T>(value: T): T => structuredClone(value);

/** The fake. */
export class FakeObjectClient implements ObjectClient {
  private rv = 0;
  private uidSeq = 0;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history = new Map<string, HistoryEntry[]>();
  private readonly compactedRv = new Map<string, number>();
  private readonly watches: ActiveWatch[] = [];
  private readonly listFailures: unknown[] = [];
  private readonly watchFailures: unknown[] = [];
  private listGate: Promise<void> | undefined;

  /** How a watch from a compacted resourceVersion reports 410 Gone. */
  goneMode: 'event' | 'http' = 'event';
  /** Base of creationTimestamp for created objects (one second apart, in creation order). */
  createdBase = Date.UTC(2025, 0, 1);

  readonly calls = {
    list: [] as ListCall[],
    watch: [] as WatchCall[],
    applyStatus: [] as ApplyStatusCall[],
    setFinalizers: [] as SetFinalizersCall[],
    /** Watches ended by the caller through WatchHandle.stop(). */
    watchStops: 0,
  };

  // ---- ObjectClient -------------------------------------------------------

  async list(type: ResourceType, namespace?: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    this.calls.list.push({ plural: type.plural, namespace, at: performance.now() });
    if (this.listFailures.length > 0) throw this.listFailures.shift();
    if (this.listGate) await this.listGate;
    const items = [...this.store(type.plural).entries()]
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, o]) => clone(o));
    return { items, resourceVersion: String(this.rv) };
  }

  async create(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    const store = this.store(type.plural);
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    if (store.has(key)) throw new ApiError(`${type.plural} "${object.metadata.name}" already exists`, 409);
    const stored = clone(object);
    this.uidSeq += 1;
    stored.metadata.uid ??= `uid-${this.uidSeq}`;
    stored.metadata.generation ??= 1;
    stored.metadata.creationTimestamp ??= new Date(this.createdBase + this.uidSeq * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    stored.metadata.resourceVersion = this.bump();
    store.set(key, stored);
    this.emit(type.plural, 'ADDED', stored);
    return clone(stored);
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    const o = this.store(type.plural).get(keyOf(namespace, name));
    return o ? clone(o) : undefined;
  }

  async watch(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    onDone: (error?: unknown) => void,
  ): Promise<WatchHandle> {
    this.calls.watch.push({ plural: type.plural, namespace, resourceVersion, at: performance.now() });
    if (this.watchFailures.length > 0) throw this.watchFailures.shift();
    const from = Number(resourceVersion || '0');
    const gone = from < (this.compactedRv.get(type.plural) ?? 0);
    const replay = gone
      ? []
      : (this.history.get(type.plural) ?? [])
          .filter((h) => h.rv > from && (namespace === undefined || h.namespace === namespace))
          .map((h) => clone(h.event));
    const w: ActiveWatch = { plural: type.plural, namespace, onEvent, onDone, done: false, queue: replay };
    this.watches.push(w);
    setImmediate(() => {
      if (w.done) return;
      if (gone && this.goneMode === 'http') {
        this.finish(w, new ApiError('too old resource version', 410));
        return;
      }
      if (gone) {
        w.queue = undefined;
        w.onEvent({ type: 'ERROR', object: goneStatus() });
        // The API server closes the stream after the ERROR event.
        this.finish(w);
        return;
      }
      const queued = w.queue ?? [];
      w.queue = undefined;
      for (const event of queued) {
        if (w.done) break;
        w.onEvent(event);
      }
    });
    return {
      stop: () => {
        if (w.done) return;
        this.calls.watchStops += 1;
        this.finish(w);
      },
    };
  }

  private statusGate: Promise<void> | undefined;

  async applyStatus(type: ResourceType, object: KubeObject, status: unknown): Promise<KubeObject> {
    const stored = object.metadata.resourceVersion !== undefined ? this.mustGetGuarded(type.plural, object) : this.mustGet(type.plural, object);
    if (object.metadata.resourceVersion !== undefined && object.metadata.resourceVersion !== stored.metadata.resourceVersion) {
      throw new StaleObjectError(`the object has been modified; please apply your changes to the latest version`);
    }
    this.calls.applyStatus.push({ plural: type.plural, namespace: object.metadata.namespace, name: object.metadata.name, status: clone(status) });
    if (this.statusGate) await this.statusGate;
    stored.status = clone(status);
    stored.metadata.resourceVersion = this.bump();
    this.emit(type.plural, 'MODIFIED', stored);
    return clone(stored);
  }

  async setFinalizers(type: ResourceType, object: KubeObject, finalizers: string[]): Promise<KubeObject> {
    const stored = object.metadata.resourceVersion !== undefined ? this.mustGetGuarded(type.plural, object) : this.mustGet(type.plural, object);
    if (object.metadata.resourceVersion !== undefined && object.metadata.resourceVersion !== stored.metadata.resourceVersion) {
      throw new StaleObjectError(`the object has been modified; please apply your changes to the latest version`);
    }
    this.calls.setFinalizers.push({ plural: type.plural, namespace: object.metadata.namespace, name: object.metadata.name, finalizers: [...finalizers] });
    stored.metadata.finalizers = [...finalizers];
    stored.metadata.resourceVersion = this.bump();
    if (stored.metadata.deletionTimestamp && finalizers.length === 0) {
      this.store(type.plural).delete(keyOf(stored.metadata.namespace, stored.metadata.name));
      this.emit(type.plural, 'DELETED', stored);
    } else {
      this.emit(type.plural, 'MODIFIED', stored);
    }
    return clone(stored);
  }

  async deleteObject(type: ResourceType, object: KubeObject): Promise<boolean> {
    const stored = this.store(type.plural).get(keyOf(object.metadata.namespace, object.metadata.name));
    if (!stored || (object.metadata.uid !== undefined && stored.metadata.uid !== object.metadata.uid)) return false;
    this.delete(type, object.metadata.namespace, object.metadata.name);
    return true;
  }

  // ---- test controls: the store ------------------------------------------

  /** The stored object (a copy), or undefined. */
  peek(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.store(type.plural).get(keyOf(namespace, name));
    return o ? clone(o) : undefined;
  }

  /** The current resourceVersion counter. */
  currentResourceVersion(): string {
    return String(this.rv);
  }

  /** Changes an object as a user would (generation moves when spec changes); emits MODIFIED. */
  update(type: ResourceType, namespace: string | undefined, name: string, mutate: (o: KubeObject) => void): KubeObject {
    const stored = this.mustGet(type.plural, { metadata: { name, namespace } });
    const before = JSON.stringify(stored.spec ?? null);
    mutate(stored);
    if (JSON.stringify(stored.spec ?? null) !== before) stored.metadata.generation = (stored.metadata.generation ?? 0) + 1;
    stored.metadata.resourceVersion = this.bump();
    this.emit(type.plural, 'MODIFIED', stored);
    return clone(stored);
  }

  /** Sets status as another writer (an agent) would; not recorded in `calls`. */
  setStatus(type: ResourceType, namespace: string | undefined, name: string, status: unknown): KubeObject {
    return this.update(type, namespace, name, (o) => {
      o.status = clone(status);
    });
  }

  /**
   * Deletes like the API server: an object with finalizers only gets a
   * deletionTimestamp (MODIFIED); one without is removed (DELETED).
   */
  delete(type: ResourceType, namespace: string | undefined, name: string, at = '2025-06-01T00:00:00Z'): void {
    const store = this.store(type.plural);
    const key = keyOf(namespace, name);
    const stored = this.mustGet(type.plural, { metadata: { name, namespace } });
    stored.metadata.resourceVersion = this.bump();
    if ((stored.metadata.finalizers ?? []).length > 0) {
      stored.metadata.deletionTimestamp ??= at;
      this.emit(type.plural, 'MODIFIED', stored);
    } else {
      store.delete(key);
      this.emit(type.plural, 'DELETED', stored);
    }
  }

  /** Forgets the history up to now: watches from an older resourceVersion get 410 Gone. */
  compact(type: ResourceType): void {
    this.compactedRv.set(type.plural, this.rv);
    this.history.set(
      type.plural,
      (this.history.get(type.plural) ?? []).filter((h) => h.rv > this.rv),
    );
  }

  // ---- test controls: watches and failures --------------------------------

  /** Number of open watches of a type. */
  activeWatches(type: ResourceType): number {
    return this.watches.filter((w) => w.plural === type.plural && !w.done).length;
  }

  /** Delivers an arbitrary event to the open watches of a type (the store is not touched). */
  pushEvent(type: ResourceType, event: WatchEvent): void {
    for (const w of this.openWatches(type.plural, event.object.metadata?.namespace)) this.deliver(w, clone(event));
  }

  /** Sends a BOOKMARK carrying the current resourceVersion (optionally bumped first, as writes elsewhere would). */
  bookmark(type: ResourceType, advanceBy = 0): string {
    this.rv += advanceBy;
    const rv = String(this.rv);
    for (const w of this.openWatches(type.plural, undefined)) {
      this.deliver(w, { type: 'BOOKMARK', object: { apiVersion: `${type.group}/${type.version}`, kind: type.kind, metadata: { name: '', resourceVersion: rv } } });
    }
    return rv;
  }

  /** Sends an ERROR event (a metav1.Status) to the open watches of a type; `close` also ends the stream. */
  sendError(type: ResourceType, code: number, close = true): void {
    for (const w of this.openWatches(type.plural, undefined)) {
      this.deliver(w, { type: 'ERROR', object: { ...goneStatus(), code, message: `error ${code}` } as unknown as KubeObject });
      if (close) this.finish(w);
    }
  }

  /** Ends the open watches of a type, normally (no error) or with `error`. */
  endWatches(type: ResourceType, error?: unknown): void {
    for (const w of this.openWatches(type.plural, undefined)) this.finish(w, error);
  }

  /** The next list calls throw these errors, one per call. */
  failNextList(...errors: unknown[]): void {
    this.listFailures.push(...errors);
  }

  /** The next watch calls reject with these errors, one per call. */
  failNextWatch(...errors: unknown[]): void {
    this.watchFailures.push(...errors);
  }

  /** Holds every status write (recorded, not yet stored or announced) until the returned function is called. */
  holdStatusWrites(): () => void {
    let release!: () => void;
    this.statusGate = new Promise<void>((r) => (release = r));
    return () => {
      this.statusGate = undefined;
      release();
    };
  }

  /** Holds every list call until the returned function is called. */
  holdLists(): () => void {
    let release!: () => void;
    this.listGate = new Promise<void>((r) => (release = r));
    return () => {
      this.listGate = undefined;
      release();
    };
  }

  /** Resolves once every open watch has flushed its initial replay. */
  async idle(): Promise<void> {
    for (let i = 0; i < 100 && this.watches.some((w) => !w.done && w.queue !== undefined); i++) {
      await new Promise((r) => setImmediate(r));
    }
  }

  // ---- internals ---------------------------------------------------------

  private store(plural: string): Map<string, KubeObject> {
    let s = this.objects.get(plural);
    if (!s) this.objects.set(plural, (s = new Map()));
    return s;
  }

  private mustGet(plural: string, object: Pick<KubeObject, 'metadata'>): KubeObject {
    const stored = this.store(plural).get(keyOf(object.metadata.namespace, object.metadata.name));
    if (!stored) throw new ApiError(`${plural} "${object.metadata.name}" not found`, 404);
    return stored;
  }

  /** {@link mustGet} for a write with a precondition: as the real client, a missing object is a stale cache (404). */
  private mustGetGuarded(plural: string, object: Pick<KubeObject, 'metadata'>): KubeObject {
    const stored = this.store(plural).get(keyOf(object.metadata.namespace, object.metadata.name));
    if (!stored) throw new StaleObjectError(`${plural} "${object.metadata.name}" not found`, 404);
    return stored;
  }

  private bump(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private emit(plural: string, type: WatchEvent['type'], object: KubeObject): void {
    const event: WatchEvent = { type, object: clone(object) };
    const entries = this.history.get(plural) ?? [];
    entries.push({ rv: Number(object.metadata.resourceVersion), namespace: object.metadata.namespace, event });
    this.history.set(plural, entries);
    for (const w of this.openWatches(plural, object.metadata.namespace)) this.deliver(w, clone(event));
  }

  private openWatches(plural: string, namespace: string | undefined): ActiveWatch[] {
    return this.watches.filter(
      (w) => !w.done && w.plural === plural && (w.namespace === undefined || namespace === undefined || w.namespace === namespace),
    );
  }

  private deliver(w: ActiveWatch, event: WatchEvent): void {
    if (w.queue) w.queue.push(event);
    else w.onEvent(event);
  }

  private finish(w: ActiveWatch, error?: unknown): void {
    if (w.done) return;
    w.done = true;
    this.watches.splice(this.watches.indexOf(w), 1);
    w.onDone(error);
  }
}

function goneStatus(): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {} as KubeObject['metadata'],
    status: 'Failure',
    message: 'too old resource version',
    reason: 'Expired',
    code: 410,
  } as unknown as KubeObject;
}
