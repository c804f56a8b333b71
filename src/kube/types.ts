/**
 * What the operator needs from Kubernetes, as plain interfaces. The
 * client-node implementation is in this folder (client.ts); unit tests may
 * implement these with fakes. Nothing here imports client-node.
 */

/** Object metadata fields the operator reads or writes. */
export interface ObjectMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  [key: string]: unknown;
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMetadata;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

/** Identifies a resource type on the API server. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

/** A watch event as the API server sends it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

/** A running watch. */
export interface WatchHandle {
  stop(): void;
}

/** Thrown for HTTP errors from the API server, with the status code kept. */
export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status code (404 not found, 409 conflict, 410 gone, ...). */
    readonly code: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * A 409 answer to a write that carried the resourceVersion it was based on
 * (a guarded status write, a finalizer update): the object changed since it
 * was read, so the reader's copy (an informer cache) is behind. Distinct
 * from other 409s (AlreadyExists on create), which are not about staleness.
 * A 404 to such a write is the same news in its last form: the object was
 * deleted since it was read (code 404).
 */
export class StaleObjectError extends ApiError {
  constructor(message: string, code: 409 | 404 = 409) {
    super(message, code);
    this.name = 'StaleObjectError';
  }
}

/** True for a 404. */
export const isNotFound = (error: unknown): boolean => error instanceof ApiError && error.code === 404;
/** True for a 409 (optimistic concurrency conflict or already exists). */
export const isConflict = (error: unknown): boolean => error instanceof ApiError && error.code === 409;

/** CRUD, watch and status operations on namespaced objects. */
export interface ObjectClient {
  /** Lists objects (all namespaces when `namespace` is undefined), following continue tokens. */
  list(type: ResourceType, namespace?: string): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /** Creates an object (namespace from its metadata). */
  create(type: ResourceType, object: KubeObject): Promise<KubeObject>;
  /** Reads one object, undefined when it doesn't exist. */
  get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>;
  /**
   * Watches from `resourceVersion`. `onEvent` gets every event; `onDone` is
   * called once when the watch ends, with the error if it failed.
   */
  watch(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    onDone: (error?: unknown) => void,
  ): Promise<WatchHandle>;
  /**
   * Writes the whole status by server-side apply on the status subresource
   * (the field manager owns exactly the status fields it sets), guarded by
   * the object's resourceVersion when it has one: a write over an object that
   * changed (or went away) since it was read fails with a
   * {@link StaleObjectError}, so a pass working from an older cache cannot put
   * an older status back.
   */
  applyStatus(type: ResourceType, object: KubeObject, status: unknown): Promise<KubeObject>;
  /** Replaces metadata.finalizers, guarded by the object's resourceVersion. */
  setFinalizers(type: ResourceType, object: KubeObject, finalizers: string[]): Promise<KubeObject>;
  /** Deletes an object (guarded by its UID); false when it was already gone. */
  deleteObject(type: ResourceType, object: KubeObject): Promise<boolean>;
}

/** Records Kubernetes Events about an object. */
export interface EventRecorder {
  event(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}
