/**
 * Client side: opens a WebSocket over HTTPS (or HTTP) with Node's own
 * request machinery, so TLS options (client certificates, a private CA) and
 * headers (Authorization) are the caller's to set.
 *
 * @packageDocumentation
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { WebSocketConnection } from './connection.js';
import { checkUpgradeResponse, newClientKey } from './handshake.js';

/** The server refused the upgrade with an HTTP answer (its status and body). */
export class WebSocketRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
    this.name = 'WebSocketRefusedError';
  }
}

/** Options of {@link connectWebSocket}: TLS and header options of `https.request`, plus a timeout. */
export interface ConnectOptions extends Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername' | 'checkServerIdentity'> {
  headers?: OutgoingHttpHeaders;
  /** Handshake timeout; default 15 s. */
  timeoutMs?: number;
  maxPayload?: number;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Connects to a `wss://` / `ws://` (or `https://` / `http://`) URL and completes the handshake. */
export function connectWebSocket(url: string, options: ConnectOptions = {}): Promise<WebSocketConnection> {
  const u = new URL(url);
  const secure = u.protocol === 'wss:' || u.protocol === 'https:';
  const key = newClientKey();
  const { headers, timeoutMs, maxPayload, ...tls } = options;
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)({
      ...(secure ? tls : {}),
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (secure ? 443 : 80),
      path: `${u.pathname}${u.search}`,
      method: 'GET',
      headers: {
        ...headers,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
      },
      timeout: timeoutMs ?? 15_000,
    });
    req.on('timeout', () => req.destroy(new Error(`WebSocket handshake with ${u.host} timed out`)));
    req.on('error', reject);
    req.on('response', (res) => {
      void readBody(res).then((body) => reject(new WebSocketRefusedError(res.statusCode ?? 0, body)));
    });
    req.on('upgrade', (res, socket, head) => {
      const problem = checkUpgradeResponse(key, res.headers);
      if (problem) {
        socket.destroy();
        reject(new Error(problem));
        return;
      }
      socket.setTimeout(0);
      resolve(new WebSocketConnection(socket, { role: 'client', head, ...(maxPayload !== undefined ? { maxPayload } : {}) }));
    });
    req.end();
  });
}
