/**
 * The console proxy: users reach a VM's serial console here, never an agent
 * directly. `GET /v1/namespaces/{ns}/virtualmachines/{name}/console`
 * upgraded to a WebSocket is authenticated (see authenticate.ts), authorized
 * with a SubjectAccessReview (`update` on that VirtualMachine: who may change
 * a VM may type into it; `get` is not enough), and relayed to the agent of
 * the VM's host (`status.host`) over mutual TLS with the operator's client
 * certificate from the Manager's CA. Binary messages carry console bytes.
 *
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { checkAgentIdentity, type AgentClientTls } from '../../agent/client/index.js';
import { consolePath } from '../../agent/console/endpoint.js';
import type { AccessReviewer } from '../../kube/access-review.js';
import type { ObjectClient } from '../../kube/types.js';
import { acceptUpgrade, connectWebSocket, refuseUpgrade, WebSocketRefusedError, type WebSocketConnection } from '../../ws/index.js';
import { Resources } from '../resources.js';
import { authenticate } from './authenticate.js';

/** Path of a VM's console on the proxy. */
export function proxyConsolePath(namespace: string, name: string): string {
  return `/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(name)}/console`;
}

const PATH = /^\/v1\/namespaces\/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/virtualmachines\/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/console$/;

/** Options of {@link ConsoleProxy}. */
export interface ConsoleProxyOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Serving certificate and key (PEM). */
  tls: { cert: string | Buffer; key: string | Buffer };
  /** The cluster's client CA (PEM): client certificates it signed authenticate users. Absent: bearer tokens only. */
  clientCa?: string | Buffer;
  reviewer: AccessReviewer;
  client: ObjectClient;
  /** The operator's client TLS for a namespace's agents (its Manager's CA). */
  agentTls: (namespace: string) => Promise<AgentClientTls | undefined>;
  log: Logger;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface AgentTarget {
  uid: string;
  host: string;
  address: string;
  port: number;
  /** The Host's status.certificate.notBefore: agent certificates issued before it are retired. */
  certificateIssuedNotBefore?: string;
}

/** The console proxy's HTTPS server. */
export class ConsoleProxy {
  private server: Server | undefined;
  private readonly sessions = new Set<WebSocketConnection>();

  constructor(private readonly options: ConsoleProxyOptions) {}

  /** Listens; rejects when the address is taken. */
  async listen(): Promise<void> {
    const o = this.options;
    const server = createServer({
      cert: o.tls.cert,
      key: o.tls.key,
      minVersion: 'TLSv1.2',
      // Certificates are optional (tokens work too); those presented are checked against the client CA.
      requestCert: o.clientCa !== undefined,
      rejectUnauthorized: false,
      ...(o.clientCa !== undefined ? { ca: o.clientCa } : {}),
    }, (_req, res) => {
      res.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket' });
      res.end(JSON.stringify({ error: { code: 426, reason: 'UpgradeRequired', message: 'the console is a WebSocket: GET .../console with Upgrade: websocket' } }));
    });
    server.headersTimeout = 10_000;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.serve(req, socket, head).catch((error: unknown) => {
        if (error instanceof Refusal) refuseUpgrade(socket, error.status, error.reason, error.message);
        else {
          o.log.error({ err: error }, 'console proxy failed');
          refuseUpgrade(socket, 500, 'Internal', 'internal error (see the operator log)');
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    o.log.info({ host: o.host, port: this.port(), clientCertificates: o.clientCa !== undefined }, 'console proxy listening');
  }

  /** The port listened on (0 before listen). */
  port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Ends every session and stops listening. */
  async close(): Promise<void> {
    for (const ws of this.sessions) ws.close(1001, 'operator stopping');
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async serve(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const o = this.options;
    const pathname = (req.url ?? '/').split(/[?#]/)[0] ?? '/';
    const match = PATH.exec(pathname);
    if (!match) throw new Refusal(404, 'NotFound', `no console route ${pathname.slice(0, 200)}; expected /v1/namespaces/NS/virtualmachines/NAME/console`);
    const namespace = match[1] as string;
    const name = match[3] as string;

    const authn = await authenticate(req.headers, socket as TLSSocket, o.reviewer);
    if ('error' in authn) throw new Refusal(401, 'Unauthorized', authn.error);
    const user = authn.user;
    const verdict = await o.reviewer.authorize(user, { verb: 'update', group: 'drover.io', resource: 'virtualmachines', namespace, name });
    if (!verdict.allowed) {
      o.log.info({ user: user.username, namespace, vm: name }, 'console refused: no update permission');
      throw new Refusal(403, 'Forbidden', `user "${user.username}" may not update virtualmachines.drover.io "${name}" in namespace "${namespace}", which the console requires`);
    }

    const target = await this.findAgent(namespace, name);
    const tls = await o.agentTls(namespace);
    if (!tls) throw new Refusal(503, 'NoCredentials', `namespace ${namespace} has no Manager CA yet`);
    let upstream: WebSocketConnection;
    try {
      upstream = await connectWebSocket(`wss://${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port}${consolePath(target.uid)}`, {
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        // The agent's certificate must name this Host (its CN) and not be retired, as for every other agent call.
        checkServerIdentity: (hostname, cert) => checkAgentIdentity(hostname, cert, target.host, target.certificateIssuedNotBefore),
      });
    } catch (error) {
      if (error instanceof WebSocketRefusedError) {
        const message = agentMessage(error.body) ?? `the agent answered HTTP ${error.status}`;
        throw new Refusal(error.status === 404 || error.status === 409 ? 409 : 502, 'AgentRefused', `host ${target.host}: ${message}`);
      }
      throw new Refusal(502, 'AgentUnreachable', `cannot reach the agent of host ${target.host}: ${(error as Error).message}`);
    }

    const ws = acceptUpgrade(req, socket, head);
    if (!ws) {
      upstream.close(1000, 'client handshake failed');
      return;
    }
    o.log.info({ user: user.username, via: authn.method, namespace, vm: name, host: target.host }, 'console session opened');
    this.sessions.add(ws);
    ws.on('message', (data) => upstream.send(data));
    upstream.on('message', (data) => ws.send(data));
    upstream.on('close', (code, reason) => ws.close(code === 1005 || code === 1006 ? 1011 : code, reason || 'the agent ended the console'));
    ws.on('close', () => {
      this.sessions.delete(ws);
      upstream.close(1000, 'user left');
      o.log.info({ user: user.username, namespace, vm: name }, 'console session closed');
    });
  }

  private async findAgent(namespace: string, name: string): Promise<AgentTarget> {
    const vm = await this.options.client.get(Resources.VirtualMachine, namespace, name);
    if (!vm) throw new Refusal(404, 'NotFound', `virtualmachine "${name}" not found in namespace "${namespace}"`);
    const status = (vm.status ?? {}) as { host?: string; phase?: string };
    if (!status.host) throw new Refusal(409, 'NotRunning', `virtualmachine "${name}" runs on no host (phase ${status.phase ?? 'unknown'})`);
    const host = await this.options.client.get(Resources.Host, namespace, status.host);
    const spec = (host?.spec ?? {}) as { address?: string; port?: number };
    if (!host || !spec.address) throw new Refusal(409, 'HostNotFound', `host "${status.host}" of virtualmachine "${name}" not found`);
    const uid = vm.metadata.uid;
    if (!uid) throw new Refusal(500, 'Internal', 'the VirtualMachine has no uid');
    const issued = (host.status as { certificate?: { notBefore?: string } } | undefined)?.certificate?.notBefore;
    return { uid, host: status.host, address: spec.address, port: spec.port ?? 54321, ...(issued !== undefined ? { certificateIssuedNotBefore: issued } : {}) };
  }
}

function agentMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } };
    return typeof parsed.error?.message === 'string' ? parsed.error.message.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}
