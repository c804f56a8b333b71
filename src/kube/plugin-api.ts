/**
 * What `kubectl drover` asks of the API server, with the user's own
 * kubeconfig (as kubectl loads it: --kubeconfig, $KUBECONFIG, ~/.kube/config,
 * or in-cluster): read Drover objects, create a VirtualMachineMigration,
 * merge-patch a Host's spec.maintenance, and the user's credentials for the
 * console proxy. Nothing else: the plugin never talks to agents.
 */
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';
import { toApiError } from './client.js';
import type { KubeObject, ResourceType } from './types.js';

/** Credentials for an HTTPS/WebSocket request on the user's behalf (never logged). */
export interface UserCredentials {
  headers: Record<string, string>;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** The plugin's view of the API server. */
export class PluginKube {
  private readonly kc: KubeConfig;
  private readonly api: CustomObjectsApi;

  /** Loads the kubeconfig (an explicit path, or kubectl's defaults) and selects `context` when given. */
  constructor(options: { kubeconfig?: string; context?: string } = {}) {
    const kc = new KubeConfig();
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
    if (options.context) {
      if (!kc.getContextObject(options.context)) throw new Error(`context "${options.context}" is not in the kubeconfig`);
      kc.setCurrentContext(options.context);
    }
    this.kc = kc;
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /** The namespace of the current context, or `default`. */
  contextNamespace(): string {
    return this.kc.getContextObject(this.kc.getCurrentContext())?.namespace || 'default';
  }

  /** One object, or undefined when it does not exist (other errors, 403 included, throw). */
  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({ group: type.group, version: type.version, namespace, plural: type.plural, name })) as KubeObject;
    } catch (error) {
      const e = toApiError(error);
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  }

  /** Every object of a type in a namespace. */
  async list(type: ResourceType, namespace: string): Promise<KubeObject[]> {
    try {
      const answer = (await this.api.listNamespacedCustomObject({ group: type.group, version: type.version, namespace, plural: type.plural })) as { items?: KubeObject[] };
      return answer.items ?? [];
    } catch (error) {
      throw toApiError(error);
    }
  }

  /** Creates an object (a VirtualMachineMigration). */
  async create(type: ResourceType, namespace: string, body: object): Promise<KubeObject> {
    try {
      return (await this.api.createNamespacedCustomObject({ group: type.group, version: type.version, namespace, plural: type.plural, body, fieldManager: 'kubectl-drover' })) as KubeObject;
    } catch (error) {
      throw toApiError(error);
    }
  }

  /** A JSON merge patch of one object. */
  async mergePatch(type: ResourceType, namespace: string, name: string, body: object): Promise<KubeObject> {
    try {
      return (await this.api.patchNamespacedCustomObject(
        { group: type.group, version: type.version, namespace, plural: type.plural, name, body, fieldManager: 'kubectl-drover' },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as KubeObject;
    } catch (error) {
      throw toApiError(error);
    }
  }

  /** The current user's credentials (bearer token or exec/auth-provider token as a header; client certificate and key). */
  async credentials(): Promise<UserCredentials> {
    const opts: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    const creds: UserCredentials = { headers };
    if (opts.cert !== undefined) creds.cert = opts.cert as string | Buffer;
    if (opts.key !== undefined) creds.key = opts.key as string | Buffer;
    return creds;
  }
}
