/**
 * SecretStore on @kubernetes/client-node: the only code touching core/v1
 * Secrets. Values are base64-decoded on read and encoded on write; nothing
 * here logs, and errors carry the API server's message (which never contains
 * Secret data), not the request.
 */
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import {
  SecretAlreadyExistsError,
  type DeletePreconditions,
  type NewSecret,
  type SecretStore,
  type StoredSecret,
} from '../pki/secret-store.js';
import { toApiError } from './client.js';
import { ApiError } from './types.js';

/** Page size for lists (there are few Drover Secrets; this bounds one answer). */
const PAGE_SIZE = 500;

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toApiError(error);
  }
}

const codeOf = (error: unknown): number | undefined => (error instanceof ApiError ? error.code : undefined);

function decode(secret: V1Secret, fallbackNamespace: string): StoredSecret {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64').toString('utf8');
  return {
    name: secret.metadata?.name ?? '',
    namespace: secret.metadata?.namespace ?? fallbackNamespace,
    uid: secret.metadata?.uid ?? '',
    resourceVersion: secret.metadata?.resourceVersion ?? '',
    type: secret.type ?? 'Opaque',
    labels: { ...(secret.metadata?.labels ?? {}) },
    data,
  };
}

/** The client-node backed {@link SecretStore}. */
export class KubeSecretStore implements SecretStore {
  private readonly api: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
  }

  async get(namespace: string, name: string): Promise<StoredSecret | undefined> {
    try {
      return decode(await call(() => this.api.readNamespacedSecret({ namespace, name })), namespace);
    } catch (error) {
      if (codeOf(error) === 404) return undefined;
      throw error;
    }
  }

  async create(namespace: string, secret: NewSecret): Promise<StoredSecret> {
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(secret.data)) data[key] = Buffer.from(value, 'utf8').toString('base64');
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secret.name, namespace, labels: secret.labels },
      type: secret.type,
      // Immutable: nothing rewrites a CA or a token; a changed Secret is a replaced one (new uid).
      immutable: true,
      data,
    };
    try {
      return decode(await call(() => this.api.createNamespacedSecret({ namespace, body })), namespace);
    } catch (error) {
      if (codeOf(error) === 409) throw new SecretAlreadyExistsError(namespace, secret.name);
      throw error;
    }
  }

  async delete(namespace: string, name: string, preconditions: DeletePreconditions): Promise<boolean> {
    try {
      await call(() =>
        this.api.deleteNamespacedSecret({
          namespace,
          name,
          body: { preconditions: { uid: preconditions.uid, resourceVersion: preconditions.resourceVersion } },
        }),
      );
      return true;
    } catch (error) {
      // 404: someone deleted it first; 409: it is another incarnation or version now.
      if (codeOf(error) === 404 || codeOf(error) === 409) return false;
      throw error;
    }
  }

  async list(namespace: string | undefined, labelSelector: string): Promise<StoredSecret[]> {
    const items: StoredSecret[] = [];
    let continueToken: string | undefined;
    do {
      const page = await call(() =>
        namespace
          ? this.api.listNamespacedSecret({ namespace, labelSelector, limit: PAGE_SIZE, _continue: continueToken })
          : this.api.listSecretForAllNamespaces({ labelSelector, limit: PAGE_SIZE, _continue: continueToken }),
      );
      items.push(...page.items.map((s) => decode(s, namespace ?? '')));
      continueToken = page.metadata?._continue || undefined;
    } while (continueToken);
    return items;
  }
}
