/**
 * The operator's probe and scrape endpoint, on plain node:http so the pod
 * needs nothing else: `/healthz` (liveness), `/readyz` (readiness) and
 * `/metrics` (Prometheus text format). Response bodies follow the Kubernetes
 * apiserver's healthz style (`ok`, or `[+]name ok` / `[-]name failed: …`
 * lines) because operators already read that format.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { realClock, TIMED_OUT, withTimeout } from './clock.js';
import { PROMETHEUS_CONTENT_TYPE } from './exposition.js';
import type { Registry } from './metrics-registry.js';

/**
 * A named health check. It passes unless it throws, rejects or returns
 * `false`; a thrown error's message is shown as the failure reason.
 */
export type HealthCheck = () => unknown;

/** Options for {@link HealthServer}. */
export interface HealthServerOptions {
  /** Address to bind (default 0.0.0.0: kubelet probes come to the pod IP). */
  host?: string;
  /** Port (default 8081; 0 picks a free port, see {@link HealthServer.port}). */
  port?: number;
  /** Registry served on `/metrics`; without it `/metrics` is 404. */
  registry?: Registry;
  /** Logger for failing checks and server errors (default silent). */
  logger?: Logger;
  /** A check still pending after this many ms fails (default 5000), so a probe never hangs. */
  checkTimeoutMs?: number;
}

interface CheckResult {
  name: string;
  ok: boolean;
  reason?: string;
}

/** See the module comment. Register checks, `listen()`, and `close()` on shutdown. */
export class HealthServer {
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly registry: Registry | undefined;
  private readonly log: Logger;
  private readonly checkTimeoutMs: number;
  private readonly healthz = new Map<string, HealthCheck>();
  private readonly readyz = new Map<string, HealthCheck>();
  private readonly server: Server;

  /** @param options see {@link HealthServerOptions}. */
  constructor(options: HealthServerOptions = {}) {
    this.host = options.host ?? '0.0.0.0';
    this.requestedPort = options.port ?? 8081;
    this.registry = options.registry;
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'health-server' });
    this.checkTimeoutMs = options.checkTimeoutMs ?? 5000;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'Health server request failed');
        if (!res.headersSent) this.send(req, res, 500, 'internal error\n', 'text/plain; charset=utf-8');
        else res.destroy();
      });
    });
  }

  /** Adds a liveness check (`/healthz`). With none, liveness only proves the process answers. */
  addHealthzCheck(name: string, check: HealthCheck): void {
    this.healthz.set(name, check);
  }

  /** Adds a readiness check (`/readyz`), e.g. "informers-synced". */
  addReadyzCheck(name: string, check: HealthCheck): void {
    this.readyz.set(name, check);
  }

  /** Starts listening; resolves once bound. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.requestedPort, this.host, () => {
        this.server.off('error', onError);
        this.log.info({ host: this.host, port: this.port() }, 'Health server listening');
        resolve();
      });
    });
  }

  /** The bound port (useful with port 0). Throws if not listening. */
  port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('health server is not listening');
    return (address as AddressInfo).port;
  }

  /** Stops listening and drops open (keep-alive) connections so shutdown is prompt. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close((err) => (err ? reject(err) : resolve()));
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      this.send(req, res, 405, 'method not allowed\n', 'text/plain; charset=utf-8');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    switch (url.pathname) {
      case '/healthz':
      case '/livez':
        await this.serveChecks(req, res, 'healthz', this.healthz, url.searchParams.has('verbose'));
        return;
      case '/readyz':
        await this.serveChecks(req, res, 'readyz', this.readyz, url.searchParams.has('verbose'));
        return;
      case '/metrics':
        if (!this.registry) break;
        this.send(req, res, 200, this.registry.metrics(), PROMETHEUS_CONTENT_TYPE);
        return;
    }
    this.send(req, res, 404, 'not found\n', 'text/plain; charset=utf-8');
  }

  private async serveChecks(
    req: IncomingMessage,
    res: ServerResponse,
    kind: string,
    checks: ReadonlyMap<string, HealthCheck>,
    verbose: boolean,
  ): Promise<void> {
    const results = await Promise.all([...checks].map(([name, check]) => this.runCheck(name, check)));
    const failed = results.filter((r) => !r.ok);
    for (const f of failed) this.log.info({ check: f.name, reason: f.reason }, `${kind} check failed`);
    if (failed.length === 0 && !verbose) {
      this.send(req, res, 200, 'ok', 'text/plain; charset=utf-8');
      return;
    }
    const shown = verbose ? results : failed;
    const lines = shown.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason ?? 'check returned false'}`));
    lines.push(failed.length === 0 ? `${kind} check passed` : `${kind} check failed`);
    this.send(req, res, failed.length === 0 ? 200 : 500, `${lines.join('\n')}\n`, 'text/plain; charset=utf-8');
  }

  private async runCheck(name: string, check: HealthCheck): Promise<CheckResult> {
    try {
      const result = await withTimeout(realClock, Promise.resolve().then(check), this.checkTimeoutMs);
      if (result === TIMED_OUT) return { name, ok: false, reason: `timed out after ${this.checkTimeoutMs}ms` };
      return result === false ? { name, ok: false } : { name, ok: true };
    } catch (err) {
      // One line per check: a multi-line reason would break the response format.
      const reason = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
      return { name, ok: false, reason };
    }
  }

  private send(req: IncomingMessage, res: ServerResponse, status: number, body: string, contentType: string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', contentType);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    // Probe and scrape answers are point-in-time; nothing in between may cache them.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
