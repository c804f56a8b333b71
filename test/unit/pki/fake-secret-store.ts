/**
 * An in-memory SecretStore with the API server's semantics that matter here:
 * uid and resourceVersion per Secret, 409 on create of a taken name, delete
 * preconditions (404/409 → false), label selectors (`key`, `key=value`,
 * comma-separated). Values are cloned in and out. Hooks let tests place a
 * concurrent writer exactly where a race would happen.
 */
import { randomUUID } from 'node:crypto';
import {
  SecretAlreadyExistsError,
  type DeletePreconditions,
  type NewSecret,
  type SecretStore,
  type StoredSecret,
} from '../../../src/pki/secret-store.js';

const clone = (s: StoredSecret): StoredSecret => ({ ...s, labels: { ...s.labels }, data: { ...s.data } });

function matches(labels: Record<string, string>, selector: string): boolean {
  return selector
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .every((term) => {
      const [key, value] = term.split('=');
      return value === undefined ? key! in labels : labels[key!] === value;
    });
}

/** The fake. */
export class FakeSecretStore implements SecretStore {
  private readonly secrets = new Map<string, StoredSecret>();
  private version = 1;
  /** Calls per method. */
  readonly calls = { get: 0, create: 0, delete: 0, list: 0 };
  /** Runs at the start of every create (before the name is checked). */
  beforeCreate?: (namespace: string, secret: NewSecret) => Promise<void> | void;

  private key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  async get(namespace: string, name: string): Promise<StoredSecret | undefined> {
    this.calls.get++;
    const s = this.secrets.get(this.key(namespace, name));
    return s && clone(s);
  }

  async create(namespace: string, secret: NewSecret): Promise<StoredSecret> {
    this.calls.create++;
    await this.beforeCreate?.(namespace, secret);
    return this.put(namespace, secret);
  }

  /** Creates without counting or hooks (test setup); throws when the name is taken. */
  put(namespace: string, secret: NewSecret): StoredSecret {
    const key = this.key(namespace, secret.name);
    if (this.secrets.has(key)) throw new SecretAlreadyExistsError(namespace, secret.name);
    const stored: StoredSecret = {
      name: secret.name,
      namespace,
      uid: randomUUID(),
      resourceVersion: String(this.version++),
      type: secret.type,
      labels: { ...(secret.labels ?? {}) },
      data: { ...secret.data },
    };
    this.secrets.set(key, stored);
    return clone(stored);
  }

  async delete(namespace: string, name: string, pre: DeletePreconditions): Promise<boolean> {
    this.calls.delete++;
    const key = this.key(namespace, name);
    const s = this.secrets.get(key);
    if (!s || s.uid !== pre.uid || s.resourceVersion !== pre.resourceVersion) return false;
    this.secrets.delete(key);
    return true;
  }

  async list(namespace: string | undefined, labelSelector: string): Promise<StoredSecret[]> {
    this.calls.list++;
    return [...this.secrets.values()].filter((s) => (namespace === undefined || s.namespace === namespace) && matches(s.labels, labelSelector)).map(clone);
  }

  /** Test helper: whether a Secret exists. */
  has(namespace: string, name: string): boolean {
    return this.secrets.has(this.key(namespace, name));
  }

  /** Test helper: bumps a Secret's resourceVersion (as an update would). */
  touch(namespace: string, name: string): void {
    const s = this.secrets.get(this.key(namespace, name));
    if (s) s.resourceVersion = String(this.version++);
  }

  /** Test helper: how many Secrets exist. */
  size(): number {
    return this.secrets.size;
  }
}
