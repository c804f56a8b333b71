/**
 * The WebSocket opening handshake (RFC 6455 §4): the accept key, checking a
 * client's upgrade request, and a client's check of the answer.
 *
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A fresh random `Sec-WebSocket-Key` (16 random bytes, base64). */
export function newClientKey(): string {
  return randomBytes(16).toString('base64');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim();
}

function hasToken(value: string, token: string): boolean {
  return value.split(',').some((t) => t.trim().toLowerCase() === token);
}

/**
 * Checks a client's upgrade request; returns its key, or the reason it is
 * not a valid WebSocket handshake (answered with 400).
 */
export function checkUpgradeRequest(method: string | undefined, headers: IncomingHttpHeaders): { key: string } | { error: string } {
  if (method !== 'GET') return { error: 'a WebSocket handshake is a GET request' };
  if (!hasToken(headerValue(headers, 'upgrade'), 'websocket')) return { error: 'Upgrade: websocket is missing' };
  if (!hasToken(headerValue(headers, 'connection'), 'upgrade')) return { error: 'Connection: Upgrade is missing' };
  if (headerValue(headers, 'sec-websocket-version') !== '13') return { error: 'Sec-WebSocket-Version must be 13' };
  const key = headerValue(headers, 'sec-websocket-key');
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return { error: 'Sec-WebSocket-Key must be 16 bytes in base64' };
  return { key };
}

/** The server's `101 Switching Protocols` answer for a checked key. */
export function upgradeResponse(key: string): string {
  return ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(key)}`, '', ''].join('\r\n');
}

/** A client's check of the server's 101 answer: undefined when it is valid, else the reason. */
export function checkUpgradeResponse(key: string, headers: IncomingHttpHeaders): string | undefined {
  if (!hasToken(headerValue(headers, 'upgrade'), 'websocket')) return 'the server did not upgrade to websocket';
  if (headerValue(headers, 'sec-websocket-accept') !== acceptKey(key)) return 'the server answered a wrong Sec-WebSocket-Accept';
  return undefined;
}
