/**
 * What the Manager's PKI and host enrollment need from core/v1 Secrets, as a
 * plain interface: the client-node implementation lives in
 * `src/kube/secrets.ts` (the only code importing client-node), unit tests
 * use an in-memory fake. Data values are decoded strings here; base64 is the
 * implementation's business.
 */

/** A Secret as read. */
export interface StoredSecret {
  name: string;
  namespace: string;
  /** Identifies this incarnation of the Secret (a delete precondition). */
  uid: string;
  /** Changes on every write (a delete precondition). */
  resourceVersion: string;
  type: string;
  labels: Record<string, string>;
  /** Decoded values (UTF-8). */
  data: Record<string, string>;
}

/** A Secret to create. */
export interface NewSecret {
  name: string;
  type: string;
  labels?: Record<string, string>;
  data: Record<string, string>;
}

/** Which incarnation and version of a Secret a delete applies to. */
export interface DeletePreconditions {
  uid: string;
  resourceVersion: string;
}

/**
 * Thrown by {@link SecretStore.create} when a Secret of that name already
 * exists (HTTP 409 AlreadyExists), so a caller racing another writer can
 * re-read instead of failing.
 */
export class SecretAlreadyExistsError extends Error {
  constructor(
    readonly namespace: string,
    readonly secretName: string,
  ) {
    super(`secret ${namespace}/${secretName} already exists`);
    this.name = 'SecretAlreadyExistsError';
  }
}

/** Reads, creates, deletes and lists Secrets. */
export interface SecretStore {
  /** The Secret, or undefined when it does not exist. */
  get(namespace: string, name: string): Promise<StoredSecret | undefined>;
  /** Creates a Secret; throws {@link SecretAlreadyExistsError} when the name is taken. */
  create(namespace: string, secret: NewSecret): Promise<StoredSecret>;
  /**
   * Deletes the Secret only if it is still the same incarnation at the same
   * version. Returns false when it is gone (404) or changed (409): another
   * writer won, which is how exactly one enrollment consumes a token.
   */
  delete(namespace: string, name: string, preconditions: DeletePreconditions): Promise<boolean>;
  /** Secrets matching `labelSelector` in `namespace`, or in all namespaces when undefined. */
  list(namespace: string | undefined, labelSelector: string): Promise<StoredSecret[]>;
}
