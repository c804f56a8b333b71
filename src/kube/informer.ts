/**
 * A shared informer: list, then watch from the list's resourceVersion, keeping
 * a local cache and calling handlers on changes. A watch that ends is resumed
 * from the last resourceVersion seen; a 410 Gone (history compacted) forces a
 * relist that diffs against the cache, so no delete is ever missed; failures
 * back off exponentially. Built on the ObjectClient interface only.
 */
import type { Logger } from 'pino';
import { objectKey as keyOf } from '../runtime/keys.js';
import { ApiError, type KubeObject, type ObjectClient, type ResourceType, type WatchEvent } from './types.js';

/** Change notifications. */
export interface InformerHandlers {
  onAdd?(object: KubeObject): void;
  onUpdate?(oldObject: KubeObject, newObject: KubeObject): void;
  onDelete?(object: KubeObject): void;
}

/** The cache and work-queue key of an object (the runtime's key format). */
export function objectKey(object: KubeObject): string {
  return keyOf(object.metadata.namespace, object.metadata.name);
}

/** Tunables, mostly for tests. */
export interface InformerOptions {
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** Values an object is found under in an index (like client-go's IndexFunc); none leaves it out. */
export type IndexFunc = (object: KubeObject) => readonly string[];

interface Index {
  fn: IndexFunc;
  /** Index value → cache keys. */
  keys: Map<string, Set<string>>;
  /** Cache key → the values it is indexed under now. */
  values: Map<string, readonly string[]>;
}

/**
 * Lists and watches one resource type, cluster-wide or in one namespace.
 * Besides lookups by key, the cache answers by UID and by named indexes
 * ({@link addIndex}), so a reconciler that needs "the VMs on host h" or
 * "the object with UID u" does not scan every cached object: with 2,000
 * VMs such scans per reconcile or per agent event add up quadratically.
 */
export class Informer {
  private readonly cache = new Map<string, KubeObject>();
  /** UID → cache key. */
  private readonly uids = new Map<string, string>();
  private readonly indexes = new Map<string, Index>();
  private readonly handlers: InformerHandlers[] = [];
  private resourceVersion = '';
  private synced = false;
  private stopped = true;
  private stopCurrentWatch: (() => void) | undefined;
  private syncWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Counts of list and watch calls, for tests and benchmarks. */
  readonly stats = { lists: 0, watches: 0, relistsOnGone: 0 };

  constructor(
    private readonly client: ObjectClient,
    readonly type: ResourceType,
    private readonly namespace: string | undefined,
    private readonly log: Logger,
    private readonly options: InformerOptions = {},
  ) {}

  /** Registers handlers; objects already cached are replayed as adds. */
  addHandlers(handlers: InformerHandlers): void {
    this.handlers.push(handlers);
    for (const object of this.cache.values()) handlers.onAdd?.(object);
  }

  /** Starts the list/watch loop (idempotent). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Stops watching; the cache stays readable. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopCurrentWatch?.();
    this.wake?.();
    await this.loop;
  }

  /** True once the first list has been applied to the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has been applied. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** The cached object with this key, if any. */
  get(key: string): KubeObject | undefined {
    return this.cache.get(key);
  }

  /** The cached object with this UID, if any. */
  getByUid(uid: string): KubeObject | undefined {
    const key = this.uids.get(uid);
    return key === undefined ? undefined : this.cache.get(key);
  }

  /**
   * Adds an index named `name` (objects already cached are indexed at
   * once); {@link byIndex} then answers from it. Adding a name twice replaces it.
   */
  addIndex(name: string, fn: IndexFunc): void {
    const index: Index = { fn, keys: new Map(), values: new Map() };
    this.indexes.set(name, index);
    for (const [key, object] of this.cache) this.indexOne(index, key, object);
  }

  /** Cached objects indexed under `value` in index `name`, in no particular order. @throws Error for an unknown index. */
  byIndex(name: string, value: string): KubeObject[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`informer for ${this.type.plural} has no index ${name}`);
    const out: KubeObject[] = [];
    for (const key of index.keys.get(value) ?? []) {
      const object = this.cache.get(key);
      if (object) out.push(object);
    }
    return out;
  }

  /** Cache write: the object and its UID and index entries. */
  private put(key: string, object: KubeObject): void {
    const old = this.cache.get(key);
    if (old?.metadata.uid && old.metadata.uid !== object.metadata.uid && this.uids.get(old.metadata.uid) === key) this.uids.delete(old.metadata.uid);
    this.cache.set(key, object);
    if (object.metadata.uid) this.uids.set(object.metadata.uid, key);
    for (const index of this.indexes.values()) this.indexOne(index, key, object);
  }

  /** Cache removal, with its UID and index entries. */
  private remove(key: string): void {
    const old = this.cache.get(key);
    if (!old) return;
    this.cache.delete(key);
    if (old.metadata.uid && this.uids.get(old.metadata.uid) === key) this.uids.delete(old.metadata.uid);
    for (const index of this.indexes.values()) this.unindexOne(index, key);
  }

  private indexOne(index: Index, key: string, object: KubeObject): void {
    this.unindexOne(index, key);
    let values: readonly string[];
    try {
      values = [...new Set(index.fn(object))];
    } catch (error) {
      // An index function's bug must not break the cache: the object is left out of that index.
      this.log.error({ err: error, resource: this.type.plural, key }, 'index function failed');
      return;
    }
    if (values.length === 0) return;
    index.values.set(key, values);
    for (const v of values) {
      let keys = index.keys.get(v);
      if (!keys) index.keys.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private unindexOne(index: Index, key: string): void {
    const previous = index.values.get(key);
    if (!previous) return;
    index.values.delete(key);
    for (const v of previous) {
      const keys = index.keys.get(v);
      keys?.delete(key);
      if (keys?.size === 0) index.keys.delete(v);
    }
  }

  /** Cached objects, optionally of one namespace. */
  list(namespace?: string): KubeObject[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const healthy = await this.watchOnce();
        if (healthy) failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof ApiError && error.code === 410) {
          this.stats.relistsOnGone += 1;
          this.log.info({ resource: this.type.plural }, 'watch history expired (410 Gone), relisting');
          this.resourceVersion = '';
          continue;
        }
        failures += 1;
        const base = this.options.backoffBaseMs ?? 200;
        const max = this.options.backoffMaxMs ?? 30_000;
        const delay = Math.min(max, base * 2 ** (failures - 1)) * (1 + Math.random() * 0.2);
        this.log.warn({ err: error, resource: this.type.plural, retryInMs: Math.round(delay) }, 'list/watch failed, retrying');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** Lists everything and replaces the cache, emitting the differences. */
  private async relist(): Promise<void> {
    this.stats.lists += 1;
    const { items, resourceVersion } = await this.client.list(this.type, this.namespace);
    const fresh = new Map(items.map((o) => [objectKey(o), this.withKind(o)]));
    for (const [key, old] of this.cache) {
      if (!fresh.has(key)) {
        this.remove(key);
        for (const h of this.handlers) h.onDelete?.(old);
      }
    }
    for (const [key, object] of fresh) {
      const old = this.cache.get(key);
      this.put(key, object);
      if (!old) for (const h of this.handlers) h.onAdd?.(object);
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) for (const h of this.handlers) h.onUpdate?.(old, object);
    }
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter();
    }
  }

  /** List items carry no apiVersion/kind; fill them in so handlers see whole objects. */
  private withKind(object: KubeObject): KubeObject {
    if (object.kind && object.apiVersion) return object;
    return { ...object, apiVersion: `${this.type.group}/${this.type.version}`, kind: this.type.kind };
  }

  /**
   * Watches until the stream ends. Resolves true when the watch ran normally
   * (a server timeout or idle close), rejects on errors (410 included).
   */
  private watchOnce(): Promise<boolean> {
    this.stats.watches += 1;
    return new Promise<boolean>((resolve, reject) => {
      let gone: ApiError | undefined;
      let events = 0;
      const onEvent = (event: WatchEvent): void => {
        events += 1;
        if (event.type === 'ERROR') {
          const status = event.object as unknown as { code?: number; message?: string };
          gone = new ApiError(status.message ?? 'watch error', status.code ?? 500);
          this.stopCurrentWatch?.();
          return;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (event.type === 'BOOKMARK') {
          if (rv) this.resourceVersion = rv;
          return;
        }
        const object = this.withKind(event.object);
        const key = objectKey(object);
        const old = this.cache.get(key);
        if (event.type === 'DELETED') {
          this.remove(key);
          // The event carries the object's final state (e.g. its last finalizers).
          for (const h of this.handlers) h.onDelete?.(object);
        } else {
          this.put(key, object);
          if (old) for (const h of this.handlers) h.onUpdate?.(old, object);
          else for (const h of this.handlers) h.onAdd?.(object);
        }
        if (rv) this.resourceVersion = rv;
      };
      const onDone = (error?: unknown): void => {
        this.stopCurrentWatch = undefined;
        if (gone) reject(gone);
        else if (error && !isIdleTimeout(error)) reject(error);
        else resolve(events > 0 || !error);
      };
      this.client
        .watch(this.type, this.namespace, this.resourceVersion, onEvent, onDone)
        .then((handle) => {
          if (this.stopped) handle.stop();
          else this.stopCurrentWatch = () => handle.stop();
        })
        .catch(reject);
    });
  }
}

/** client-node aborts a watch that sent nothing for 30 s; that is a normal end, not a failure. */
function isIdleTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}
