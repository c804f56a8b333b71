/**
 * An OperatorContext for reconciler tests: the fake ObjectClient, real
 * Informers over it (started and synced), a recording EventRecorder, a silent
 * logger and a fixed clock. Plus builders of valid Drover objects.
 */
import pino from 'pino';
import { API_VERSION } from '../../../src/api/index.js';
import type { Informers, OperatorContext } from '../../../src/controllers/context.js';
import { Informer } from '../../../src/kube/informer.js';
import type { EventRecorder, KubeObject } from '../../../src/kube/types.js';
import { FINALIZER, Resources } from '../../../src/operator/resources.js';
import type { ReconcileContext, Reconciler } from '../../../src/runtime/controller.js';
import { FakeObjectClient } from './fake-client.js';
import { FakeAgentConnections, FakePki } from './fake-agents.js';
import { FakeFenceRunner } from './fake-fencing.js';

export const silentLogger = pino({ level: 'silent' });

/** A recorded Kubernetes Event. */
export interface RecordedEvent {
  kind: string | undefined;
  namespace: string | undefined;
  name: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** EventRecorder that keeps every event in memory. */
export class RecordingEventRecorder implements EventRecorder {
  readonly events: RecordedEvent[] = [];
  event(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, type, reason, message });
  }
}

/** The fixed time of every test context. */
export const NOW = new Date('2025-03-01T12:00:00.000Z');

/** Everything a reconciler test needs. */
export interface TestEnv {
  client: FakeObjectClient;
  ctx: OperatorContext;
  informers: Informers;
  recorder: RecordingEventRecorder;
  agents: FakeAgentConnections;
  pki: FakePki;
  fencing: FakeFenceRunner;
  /** Secrets readSecret answers from, by `namespace/name`. */
  secrets: Map<string, Record<string, string>>;
  /** Runs `reconciler` for `key` with a minimal ReconcileContext. */
  reconcile(reconciler: (ctx: OperatorContext) => Reconciler, key: string): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * Starts informers for every Drover kind over `client` and waits until they
 * are synced and their watches are live, so later writes reach the caches at once.
 */
export async function startEnv(client: FakeObjectClient = new FakeObjectClient()): Promise<TestEnv> {
  const informers: Informers = {
    managers: new Informer(client, Resources.Manager, undefined, silentLogger, { backoffBaseMs: 1, backoffMaxMs: 5 }),
    hosts: new Informer(client, Resources.Host, undefined, silentLogger, { backoffBaseMs: 1, backoffMaxMs: 5 }),
    storageDomains: new Informer(client, Resources.StorageDomain, undefined, silentLogger, { backoffBaseMs: 1, backoffMaxMs: 5 }),
    virtualMachines: new Informer(client, Resources.VirtualMachine, undefined, silentLogger, { backoffBaseMs: 1, backoffMaxMs: 5 }),
    migrations: new Informer(client, Resources.VirtualMachineMigration, undefined, silentLogger, { backoffBaseMs: 1, backoffMaxMs: 5 }),
  };
  const all = Object.values(informers);
  for (const i of all) i.start();
  await Promise.all(all.map((i) => i.waitForSync()));
  await waitFor(() => all.every((i) => client.activeWatches(i.type) === 1));
  await client.idle();
  const recorder = new RecordingEventRecorder();
  const agents = new FakeAgentConnections();
  const pki = new FakePki();
  const fencing = new FakeFenceRunner();
  const secrets = new Map<string, Record<string, string>>();
  const ctx: OperatorContext = {
    client,
    informers,
    events: recorder,
    log: silentLogger,
    now: () => NOW,
    agents,
    pki,
    fencing,
    readSecret: async (namespace, name) => secrets.get(`${namespace}/${name}`),
    // Long enough ago that fencing's grace period is over unless a test says otherwise.
    leaderSince: new Date(NOW.getTime() - 3_600_000),
  };
  return {
    client,
    ctx,
    informers,
    recorder,
    agents,
    pki,
    fencing,
    secrets,
    reconcile: (reconciler, key) => {
      const [namespace, name] = key.split('/') as [string, string];
      const rc = { key, namespace, name, log: silentLogger, signal: new AbortController().signal } as ReconcileContext;
      return reconciler(ctx)(key, rc);
    },
    stop: async () => {
      await Promise.all(all.map((i) => i.stop()));
    },
  };
}

/** Lets the fake API server deliver its watch events and the informers apply them. */
export async function settle(env: TestEnv): Promise<void> {
  await env.client.idle();
  await new Promise((r) => setTimeout(r, 5));
}

/** Runs one reconcile of `key` between two {@link settle}s, as the controller would see the caches. */
export async function reconcileSettled(env: TestEnv, reconciler: (ctx: OperatorContext) => Reconciler, key: string): Promise<unknown> {
  await settle(env);
  const result = await env.reconcile(reconciler, key);
  await settle(env);
  return result;
}

/** Polls `cond` every few ms until true, failing after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

// ---- object builders -------------------------------------------------------

const meta = (name: string, namespace: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject['metadata'] => ({
  name,
  namespace,
  ...extra,
});

/** A valid Standalone Manager. */
export function managerObj(name: string, namespace: string, spec: Record<string, unknown> = {}, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: API_VERSION, kind: 'Manager', metadata: meta(name, namespace, extra), spec };
}

/** A valid SelfHosted Manager spec. */
export const selfHostedSpec = {
  mode: 'SelfHosted',
  selfHosted: {
    storageDomain: 'hosted-engine',
    hostSelector: { matchLabels: { 'drover.io/hosted-engine': 'true' } },
    vm: { memory: '512Mi', kernel: 'guest/vmlinuz' },
    healthURL: 'http://10.0.0.100/healthz',
  },
};

/** A valid Host. */
export function hostObj(name: string, namespace: string, spec: Record<string, unknown> = {}, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: API_VERSION, kind: 'Host', metadata: meta(name, namespace, extra), spec: { address: `${name}.example.com`, ...spec } };
}

/** A valid NFS StorageDomain (role Data unless `role` is given). */
export function domainObj(name: string, namespace: string, role = 'Data', extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: 'StorageDomain',
    metadata: meta(name, namespace, extra),
    spec: { type: 'NFS', role, nfs: { server: 'nfs.example.com', path: `/exports/${name}` } },
  };
}

/** A valid VM with one boot disk on `domain`. */
export function vmObj(
  name: string,
  namespace: string,
  spec: Record<string, unknown> = {},
  extra: Partial<KubeObject['metadata']> = {},
  domain = 'data',
): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualMachine',
    metadata: meta(name, namespace, extra),
    spec: {
      cpu: { cores: 1 },
      memory: '1Gi',
      disks: [{ name: 'root', storageDomain: domain, size: '10Gi', bootOrder: 1 }],
      ...spec,
    },
  };
}

/** A VirtualMachineMigration of `vmName` (with Drover's finalizer unless `finalizers` says otherwise). */
export function migrationObj(name: string, namespace: string, vmName: string, finalizers: string[] = [FINALIZER]): KubeObject {
  return { apiVersion: API_VERSION, kind: 'VirtualMachineMigration', metadata: meta(name, namespace, { finalizers }), spec: { vmName } };
}

/** Host status of an Up host with capabilities, connected to `domains`. */
export function upHostStatus(memoryBytes: number, domains: string[], threads = 8): Record<string, unknown> {
  return {
    phase: 'Up',
    capabilities: { memoryBytes, cpu: { sockets: 1, cores: threads, threads: 1 } },
    storageDomains: domains.map((name) => ({ name, connected: true })),
  };
}

/**
 * Makes `informer` answer `get(key)` with `stale` (an object read earlier)
 * until the returned function is called: a cache that has not seen the
 * latest writes yet, as a watch lagging behind the API server leaves it.
 */
export function lagCache(informer: Informer, key: string, stale: KubeObject): () => void {
  const get = informer.get;
  informer.get = (k: string) => (k === key ? stale : get.call(informer, k));
  return () => {
    informer.get = get;
  };
}
