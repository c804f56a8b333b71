/**
 * Real agent servers (mutual TLS on 127.0.0.1 over the in-memory fakes) and
 * an AgentConnectionManager wired to them, with everything tests count:
 * requests each server answered, client calls by method, and notifications.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createAgentServer, type AgentServer } from '../../../../src/agent/server/index.js';
import { AgentClient, type AgentClientOptions, type AgentClientTls } from '../../../../src/agent/client/index.js';
import { createCa, issueServerCert, readPem, type PemPair } from '../../../../src/agent/pki/index.js';
import { AgentConnectionManager, type LinkChange, type LinkClient } from '../../../../src/operator/agents/index.js';
import { FakeDriver, FakeStorage } from '../../agent/support/fakes.js';
import { FAKE_PROC, testPki } from '../../agent/support/harness.js';

export { testPki };

/** A running agent. */
export interface TestAgent {
  server: AgentServer;
  driver: FakeDriver;
  storage: FakeStorage;
  port: number;
  /** Paths of the requests it answered (the event stream is logged when it closes). */
  requests: string[];
  /** Answered requests to `path`. */
  count(path: string): number;
  close(): Promise<void>;
}

/** Options of {@link startTestAgent}. */
export interface TestAgentOptions {
  port?: number;
  bootId?: string;
  version?: string;
  driver?: FakeDriver;
  storage?: FakeStorage;
  /** The server's certificate; the Manager CA's test server certificate by default. */
  serverCert?: PemPair;
}

/** Starts an agent server (`createAgentServer`, real TLS) over fakes. */
export async function startTestAgent(options: TestAgentOptions = {}): Promise<TestAgent> {
  const pki = await testPki();
  const driver = options.driver ?? new FakeDriver();
  const storage = options.storage ?? new FakeStorage();
  const requests: string[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as { msg?: string; path?: string };
        if (entry.msg === 'request' && typeof entry.path === 'string') requests.push(entry.path);
      },
    },
  );
  const cert = options.serverCert ?? pki.server;
  const server = createAgentServer({
    tls: { cert: cert.cert, key: cert.key, ca: pki.ca },
    host: '127.0.0.1',
    port: options.port ?? 0,
    driver,
    storage,
    logger,
    version: options.version ?? '0.1.0-test',
    bootId: options.bootId ?? 'boot1',
    storagePollMs: 0,
    vmPollMs: 10,
    heartbeatMs: 1000,
    eventRetryMs: 20,
    // Tests stop agents often: do not wait for keep-alive sockets.
    closeGraceMs: 50,
    procReader: async (file) => FAKE_PROC[file],
  });
  await server.listen();
  return {
    server,
    driver,
    storage,
    port: server.port(),
    requests,
    count: (path) => requests.filter((p) => p === path).length,
    close: () => server.close(),
  };
}

let foreign: Promise<PemPair> | undefined;

/** A server certificate for 127.0.0.1 from a CA the operator does not trust. */
export function foreignServerCert(): Promise<PemPair> {
  foreign ??= mkdtemp(join(tmpdir(), 'drover-foreign-pki-')).then(async (dir) => {
    try {
      const ca = await createCa(dir, 'other-ca', 'another-manager-ca');
      const files = await issueServerCert(dir, ca, { name: 'other-agent', commonName: 'drover-agent', ips: ['127.0.0.1'], dnsNames: ['localhost'] });
      return await readPem(files);
    } finally {
      // Only the PEM text is used from here on.
      await rm(dir, { recursive: true, force: true });
    }
  });
  return foreign;
}

/** The operator's valid client TLS material. */
export async function operatorTls(): Promise<AgentClientTls> {
  const pki = await testPki();
  return { cert: pki.client.cert, key: pki.client.key, ca: pki.ca };
}

/** A manager under test with its recordings. */
export interface TestManager {
  manager: AgentConnectionManager;
  changes: LinkChange[];
  /** Client calls by method name, over every client the manager created. */
  calls: Map<string, number>;
  /** Clients the manager created. */
  created: AgentClientOptions[];
  /** The manager's log lines (raw JSON text). */
  logs: string[];
  /** What tlsFor answers next (change it to rotate or remove credentials). */
  tls: { current: AgentClientTls | undefined };
  callCount(method: string): number;
  /** Changes of one kind (for one uid or domain). */
  changesOf(kind: LinkChange['kind'], id?: string): LinkChange[];
}

/** Creates a manager whose clients are real AgentClients, counted. */
export async function testManager(options: { relistIntervalMs?: number; requestTimeoutMs?: number } = {}): Promise<TestManager> {
  const calls = new Map<string, number>();
  const created: AgentClientOptions[] = [];
  const logs: string[] = [];
  const changes: LinkChange[] = [];
  const tls = { current: (await operatorTls()) as AgentClientTls | undefined };
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const clientFactory = (o: AgentClientOptions): LinkClient => {
    created.push(o);
    // Every test agent's certificate names "drover-agent"; the Host named
    // "impostor" keeps its own name, so the identity check has a case that fails.
    const real = new AgentClient({ ...o, expectedName: o.expectedName === 'impostor' ? 'impostor' : 'drover-agent' });
    return new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  };
  const manager = new AgentConnectionManager({
    tlsFor: async () => tls.current,
    log,
    clientFactory,
    relistIntervalMs: options.relistIntervalMs ?? 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 2000,
  });
  manager.onChange((c) => changes.push(c));
  return {
    manager,
    changes,
    calls,
    created,
    logs,
    tls,
    callCount: (method) => calls.get(method) ?? 0,
    changesOf: (kind, id) =>
      changes.filter((c) => c.kind === kind && (id === undefined || (c.kind === 'storage' ? c.domain === id : 'uid' in c && c.uid === id))),
  };
}

/** Resolves once `pred` holds; fails with `what` after `timeoutMs` (generous: these are not timing assertions). */
export async function waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
