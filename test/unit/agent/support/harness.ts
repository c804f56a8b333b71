/**
 * Starts a real agent server (real mutual TLS on 127.0.0.1, port 0) over
 * the in-memory fakes, and talks to it with raw HTTPS requests or the
 * AgentClient.
 */
import { request as httpsRequest, Agent } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createAgentServer, type AgentServer, type AgentServerOptions } from '../../../../src/agent/server/index.js';
import { AgentClient } from '../../../../src/agent/client/index.js';
import { createTestPki, type PemPair, type TestPki } from '../../../../src/agent/pki/index.js';
import { FakeDriver, FakeStorage } from './fakes.js';

let pkiPromise: Promise<TestPki> | undefined;

/** Test certificates, made once per test file (per jest worker module registry). */
export function testPki(): Promise<TestPki> {
  pkiPromise ??= mkdtemp(join(tmpdir(), 'drover-agent-pki-')).then(async (dir) => {
    try {
      return await createTestPki(dir);
    } finally {
      // Only the PEM text is used from here on.
      await rm(dir, { recursive: true, force: true });
    }
  });
  return pkiPromise;
}

/** A raw answer. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON (tests read arbitrary shapes), undefined when not JSON. */
  body: any;
}

/** A running agent with its fakes. */
export interface Harness {
  server: AgentServer;
  driver: FakeDriver;
  storage: FakeStorage;
  pki: TestPki;
  port: number;
  /** Log lines (JSON) written by the agent. */
  logs: Record<string, unknown>[];
  /** Sends a request with the valid client certificate; `body` is JSON-encoded unless `raw` is given. */
  call(method: string, path: string, body?: unknown, opts?: { raw?: string | Buffer; headers?: Record<string, string> }): Promise<RawAnswer>;
  /** An AgentClient with the valid client certificate. */
  client(): AgentClient;
  close(): Promise<void>;
}

/** Options for {@link startAgent}. */
export type HarnessOptions = Partial<Omit<AgentServerOptions, 'tls' | 'host' | 'logger'>> & {
  driver?: FakeDriver;
  storage?: FakeStorage;
};

/** A fixed /proc for host stats. */
export const FAKE_PROC = {
  stat: 'cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n',
  meminfo: 'MemTotal:       16384000 kB\nMemFree:         8192000 kB\nMemAvailable:   12288000 kB\n',
  loadavg: '0.50 0.25 0.10 1/234 5678\n',
};

/** Starts an agent over fresh fakes (or the given ones). */
export async function startAgent(options: HarnessOptions = {}): Promise<Harness> {
  const pki = await testPki();
  const driver = options.driver ?? new FakeDriver();
  const storage = options.storage ?? new FakeStorage();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  let statCalls = 0;
  const server = createAgentServer({
    storagePollMs: 0,
    vmPollMs: 10,
    heartbeatMs: 15_000,
    bootId: 'boot1',
    eventRetryMs: 20,
    procReader: async (file) => {
      if (file !== 'stat') return FAKE_PROC[file];
      // The second sample has 100 more busy and 100 more idle jiffies: 50 % busy.
      statCalls += 1;
      return statCalls === 1 ? FAKE_PROC.stat : 'cpu  150 0 150 900 0 0 0 0 0 0\n';
    },
    ...options,
    driver,
    storage,
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca },
    host: '127.0.0.1',
    port: options.port ?? 0,
    logger,
    version: options.version ?? '0.1.0-test',
  });
  await server.listen();
  const port = server.port();
  const agent = new Agent({ keepAlive: true, maxSockets: 4, cert: pki.client.cert, key: pki.client.key, ca: pki.ca });
  const clients: AgentClient[] = [];

  return {
    server,
    driver,
    storage,
    pki,
    port,
    logs,
    call(method, path, body, opts = {}) {
      const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
      const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
      if (payload !== undefined) {
        headers['content-type'] ??= 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      return new Promise<RawAnswer>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(payload);
      });
    },
    client() {
      const c = new AgentClient({ host: '127.0.0.1', port, tls: { cert: pki.client.cert, key: pki.client.key, ca: pki.ca } });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      agent.destroy();
      await server.close();
    },
  };
}

/** Sends one GET with the given client certificate (or none) over a fresh connection. */
export function getWith(port: number, ca: string, clientCert: PemPair | undefined, path = '/v1/vms'): Promise<number> {
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port, method: 'GET', path, agent: false as const, ca, ...(clientCert ?? {}) };
    const req = httpsRequest(opts, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
