/**
 * Server side of the handshake: turns an HTTP `upgrade` into a
 * {@link WebSocketConnection}, or refuses it with a plain HTTP answer.
 *
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketConnection } from './connection.js';
import { checkUpgradeRequest, upgradeResponse } from './handshake.js';

/**
 * Answers an upgrade request with an HTTP error instead of switching
 * protocols: status, a one-line JSON error body, and the socket ends.
 */
export function refuseUpgrade(socket: Duplex, status: number, reason: string, message: string): void {
  const body = JSON.stringify({ error: { code: status, reason, message } });
  const text = STATUS_TEXT[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/**
 * Completes the handshake for a valid upgrade request and returns the
 * connection; a request that is not a valid handshake gets 400 and undefined.
 */
export function acceptUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, options: { maxPayload?: number } = {}): WebSocketConnection | undefined {
  const checked = checkUpgradeRequest(req.method, req.headers);
  if ('error' in checked) {
    refuseUpgrade(socket, 400, 'BadHandshake', checked.error);
    return undefined;
  }
  socket.write(upgradeResponse(checked.key));
  return new WebSocketConnection(socket, { role: 'server', head, ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}) });
}
