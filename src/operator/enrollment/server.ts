/**
 * The enrollment server: HTTPS (self-signed, see serving-cert.ts) with one
 * route, `POST /v1/enroll`. It runs on every operator replica, not only the
 * leader: enrollment is one atomic token consumption on the API server, so
 * any replica may answer, and a Service can spread hosts over all of them.
 *
 * Bodies are capped (64 KiB), parsed with zod (errors name the field), and
 * never logged: the CSR is public, but nothing here should ever grow a habit
 * of printing requests that carry token material.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AgentApiError, apiErrorFromZod } from '../../api/agent/index.js';
import { checkContentType, parseJson, readBody, sendError, sendJson } from '../../agent/server/http.js';
import { ENROLL_BODY_LIMIT_BYTES, ENROLL_PATH, enrollRequestSchema } from '../../pki/enrollment-protocol.js';
import type { PemKeyPair } from '../../pki/openssl.js';
import { enroll, type EnrollmentDeps } from './enroll.js';
import { generateServingCert } from './serving-cert.js';

/** Options of {@link EnrollmentServer}. */
export interface EnrollmentServerOptions {
  host: string;
  /** 0 picks a free port (see {@link EnrollmentServer.port}). */
  port: number;
  deps: EnrollmentDeps;
  log: Logger;
  /** Serving certificate; a fresh self-signed one when omitted. */
  tls?: PemKeyPair;
}

/** `host:port` → parts; IPv6 hosts may be bracketed (`[::]:9443`). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) throw new Error(`invalid listen address "${text}" (expected host:port)`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/** The enrollment HTTPS server. */
export class EnrollmentServer {
  private server: Server | undefined;

  constructor(private readonly options: EnrollmentServerOptions) {}

  /** Makes the serving certificate (unless given) and listens. Rejects when the address is taken. */
  async listen(): Promise<void> {
    const tls = this.options.tls ?? (await generateServingCert());
    const server = createServer({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
      // handle() answers every error itself; this only guards against a failure while answering.
      this.handle(req, res).catch((error: unknown) => this.options.log.error({ err: error }, 'enrollment answer failed'));
    });
    // Slow or idle clients must not hold sockets: an enrollment is one small request.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('tlsClientError', (error) => this.options.log.debug({ err: error.message }, 'enrollment TLS handshake failed'));
    this.server = server;
    this.options.log.info({ host: this.options.host, port: this.port() }, 'enrollment server listening');
  }

  /** The port listened on (0 before listen). */
  port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Stops accepting and closes connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== ENROLL_PATH) throw new AgentApiError(404, 'NotFound', `no route ${path}`);
      if (req.method !== 'POST') {
        sendError(res, new AgentApiError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${ENROLL_PATH}`), { allow: 'POST' });
        return;
      }
      checkContentType(req);
      const body = parseJson(await readBody(req, ENROLL_BODY_LIMIT_BYTES));
      const parsed = enrollRequestSchema.safeParse(body, { reportInput: true });
      if (!parsed.success) throw apiErrorFromZod(parsed.error);
      sendJson(res, 200, await enroll(this.options.deps, parsed.data));
    } catch (error) {
      if (error instanceof AgentApiError) {
        // A 413 leaves an unread body behind: close rather than reuse the connection.
        sendError(res, error, error.status === 413 ? { connection: 'close' } : {});
        return;
      }
      this.options.log.error({ err: error }, 'enrollment failed');
      sendError(res, new AgentApiError(500, 'Internal', 'enrollment failed; see the operator log'));
    }
  }
}
