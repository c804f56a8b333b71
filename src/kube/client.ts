/**
 * ObjectClient on @kubernetes/client-node: list with pagination, watch,
 * server-side-applied status and guarded finalizer updates.
 */
import {
  ApiException,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ApiError, StaleObjectError, type KubeObject, type ObjectClient, type ResourceType, type WatchEvent, type WatchHandle } from './types.js';
import { unlimited, type RequestLimiter } from '../runtime/rate-limiter.js';

/** Converts client-node's exceptions into ApiError with the HTTP code and the server's message. */
export function toApiError(error: unknown): unknown {
  if (error instanceof ApiException) {
    let message = error.message;
    try {
      const body = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
      if (body && typeof body.message === 'string') message = body.message;
    } catch {
      /* keep the exception's own message */
    }
    return new ApiError(message, error.code);
  }
  // The watch helper throws plain errors carrying statusCode for non-200 answers (410 Gone among them).
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (error instanceof Error && typeof statusCode === 'number') return new ApiError(error.message, statusCode);
  return error;
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toApiError(error);
  }
}

/**
 * {@link call} for a write carrying a resourceVersion precondition: its 409
 * can only mean "changed since read", and its 404 "deleted since read",
 * which callers treat as a stale cache rather than an error (the watch event
 * carrying the change is on its way).
 */
async function guardedCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await call(fn);
  } catch (error) {
    if (error instanceof ApiError && (error.code === 409 || error.code === 404)) throw new StaleObjectError(error.message, error.code);
    throw error;
  }
}

/** The URL parameters naming one object of a custom resource type. */
function objectPath(type: ResourceType, object: KubeObject) {
  return {
    group: type.group,
    version: type.version,
    namespace: object.metadata.namespace ?? 'default',
    plural: type.plural,
    name: object.metadata.name,
  };
}

/** Page size for lists: large enough to be few requests, small enough to bound memory per page. */
const PAGE_SIZE = 500;

/** The client-node backed ObjectClient. */
export class KubeObjectClient implements ObjectClient {
  private readonly api: CustomObjectsApi;
  private readonly watcher: Watch;

  private readonly limiter: RequestLimiter;
  private readonly observeWait: ((waitedMs: number) => void) | undefined;

  constructor(
    kubeConfig: KubeConfig,
    /** Field manager named in managedFields for everything this client writes. */
    private readonly fieldManager: string,
    /** Client-side request limit (client-go's QPS/burst); watches are not limited. Default: none. */
    options: { limiter?: RequestLimiter; observeWait?: (waitedMs: number) => void } = {},
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(kubeConfig);
    this.limiter = options.limiter ?? unlimited;
    this.observeWait = options.observeWait;
  }

  /** Waits for the limiter, then sends. */
  private async limited<T>(send: () => Promise<T>): Promise<T> {
    this.observeWait?.(await this.limiter.take());
    return send();
  }

  async list(type: ResourceType, namespace?: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.limited(() => call(() =>
        namespace
          ? this.api.listNamespacedCustomObject({ group: type.group, version: type.version, namespace, plural: type.plural, limit: PAGE_SIZE, _continue: continueToken })
          : this.api.listClusterCustomObject({ group: type.group, version: type.version, plural: type.plural, limit: PAGE_SIZE, _continue: continueToken }),
      ));
      const list = page as { items: KubeObject[]; metadata?: { resourceVersion?: string; continue?: string } };
      items.push(...list.items);
      resourceVersion = list.metadata?.resourceVersion ?? resourceVersion;
      continueToken = list.metadata?.continue || undefined;
    } while (continueToken);
    return { items, resourceVersion };
  }

  async create(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await this.limited(() => call(() =>
      this.api.createNamespacedCustomObject({
        group: type.group,
        version: type.version,
        namespace: object.metadata.namespace ?? 'default',
        plural: type.plural,
        body: object,
        fieldManager: this.fieldManager,
      }),
    ))) as KubeObject;
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      return (await this.limited(() => call(() =>
        this.api.getNamespacedCustomObject({ group: type.group, version: type.version, namespace, plural: type.plural, name }),
      ))) as KubeObject;
    } catch (error) {
      if (error instanceof ApiError && error.code === 404) return undefined;
      throw error;
    }
  }

  async watch(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    onDone: (error?: unknown) => void,
  ): Promise<WatchHandle> {
    const path = namespace
      ? `/apis/${type.group}/${type.version}/namespaces/${namespace}/${type.plural}`
      : `/apis/${type.group}/${type.version}/${type.plural}`;
    // Like client-go's reflector: a random server-side timeout spreads re-watches out.
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    let finished = false;
    const controller = await this.watcher.watch(
      path,
      { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (phase: string, object: KubeObject) => onEvent({ type: phase as WatchEvent['type'], object }),
      (error: unknown) => {
        if (finished) return;
        finished = true;
        onDone(error ? toApiError(error) : undefined);
      },
    );
    return {
      // Stopping ends the watch like any other end: onDone runs once, with no error.
      stop: () => {
        if (finished) return;
        finished = true;
        controller.abort();
        onDone();
      },
    };
  }

  async applyStatus(type: ResourceType, object: KubeObject, status: unknown): Promise<KubeObject> {
    const guard = object.metadata.resourceVersion ? { resourceVersion: object.metadata.resourceVersion } : {};
    const body = {
      apiVersion: `${type.group}/${type.version}`,
      kind: type.kind,
      metadata: { name: object.metadata.name, namespace: object.metadata.namespace, ...guard },
      status,
    };
    // Server-side apply with force has no field-manager conflicts, so only the precondition can answer 409.
    const send = guard.resourceVersion !== undefined ? guardedCall : call;
    return (await this.limited(() => send(() =>
      this.api.patchNamespacedCustomObjectStatus(
        { ...objectPath(type, object), body, fieldManager: this.fieldManager, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      ),
    ))) as KubeObject;
  }

  async setFinalizers(type: ResourceType, object: KubeObject, finalizers: string[]): Promise<KubeObject> {
    // A merge patch carrying resourceVersion fails with 409 if the object changed
    // since it was read, so a finalizer is never added to a stale view.
    const body = { metadata: { finalizers, resourceVersion: object.metadata.resourceVersion } };
    return (await this.limited(() => guardedCall(() =>
      this.api.patchNamespacedCustomObject(
        { ...objectPath(type, object), body, fieldManager: this.fieldManager },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    ))) as KubeObject;
  }

  async deleteObject(type: ResourceType, object: KubeObject): Promise<boolean> {
    try {
      await this.limited(() => call(() =>
        this.api.deleteNamespacedCustomObject({
          ...objectPath(type, object),
          // The UID precondition keeps a same-named successor safe from a stale delete.
          body: object.metadata.uid ? { preconditions: { uid: object.metadata.uid } } : {},
        }),
      ));
      return true;
    } catch (error) {
      if (error instanceof ApiError && (error.code === 404 || error.code === 409)) return false;
      throw error;
    }
  }
}
