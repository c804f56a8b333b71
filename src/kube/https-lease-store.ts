/**
 * The leader elector's LeaseStore over plain node:https, for the election
 * worker thread: one kept-alive connection of its own (never queued behind
 * the operator's other requests), no client library to load in the worker
 * (client-node's modules would cost the thread ~45 MiB), and a timeout on
 * every request.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { ConflictError } from '../runtime/errors.js';
import type { LeaseRecord, LeaseStore } from '../runtime/leader-election.js';
import type { LeaseConnection } from './lease-connection.js';
import { leaseObject, leaseRecord, type LeaseObject } from './lease-record.js';
import { ApiError } from './types.js';

/** A Lease named `name` in `namespace`, read and written with optimistic concurrency. */
export class HttpsLeaseStore implements LeaseStore {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(
    private readonly connection: LeaseConnection,
    private readonly namespace: string,
    private readonly name: string,
    /** Per-request timeout, ms. The elector bounds each attempt too; this frees the socket. */
    private readonly timeoutMs = 10_000,
  ) {
    this.base = new URL(connection.server);
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ...(connection.ca ? { ca: connection.ca } : {}),
      ...(connection.cert ? { cert: connection.cert, key: connection.key } : {}),
      ...(connection.tlsServerName ? { servername: connection.tlsServerName } : {}),
      rejectUnauthorized: !connection.insecureSkipTlsVerify,
    });
  }

  async get(): Promise<LeaseRecord | undefined> {
    const { status, body } = await this.send('GET', this.objectPath());
    if (status === 404) return undefined;
    return leaseRecord(expectOk(status, body) as LeaseObject);
  }

  async create(record: LeaseRecord): Promise<void> {
    const { status, body } = await this.send('POST', this.collectionPath(), leaseObject(this.namespace, this.name, record, undefined));
    expectWritten(status, body);
  }

  async update(record: LeaseRecord, resourceVersion: string | undefined): Promise<void> {
    const { status, body } = await this.send('PUT', this.objectPath(), leaseObject(this.namespace, this.name, record, resourceVersion));
    expectWritten(status, body);
  }

  /** Closes the kept-alive connection. */
  close(): void {
    this.agent.destroy();
  }

  private collectionPath(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  private objectPath(): string {
    return `${this.collectionPath()}/${encodeURIComponent(this.name)}`;
  }

  private async headers(body: string | undefined): Promise<Record<string, string>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const token = this.connection.token ?? (this.connection.tokenFile ? (await readFile(this.connection.tokenFile, 'utf8')).trim() : undefined);
    if (token) headers['authorization'] = `Bearer ${token}`;
    return headers;
  }

  private async send(method: string, path: string, payload?: unknown): Promise<{ status: number; body: string }> {
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    const headers = await this.headers(body);
    return new Promise((resolve, reject) => {
      const req = request(
        { protocol: this.base.protocol, hostname: this.base.hostname, port: this.base.port, path, method, headers, agent: this.agent, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} lease timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function messageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    /* not JSON */
  }
  return body.slice(0, 200);
}

function expectOk(status: number, body: string): unknown {
  if (status < 200 || status >= 300) throw new ApiError(messageOf(body), status);
  return JSON.parse(body);
}

function expectWritten(status: number, body: string): void {
  if (status === 409) throw new ConflictError(messageOf(body));
  expectOk(status, body);
}
