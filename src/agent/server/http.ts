/**
 * JSON over node:http: reading a capped body, parsing it, and writing
 * answers. Bodies are never logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AgentApiError } from '../../api/agent/index.js';

/**
 * Reads the request body, at most `limit` bytes. A declared or actual size
 * over the limit is a 413; the rest of the body is drained, not buffered.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new AgentApiError(413, 'PayloadTooLarge', `request body exceeds ${limit} bytes`);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
  });
}

/** Checks the content type of a request with a body: JSON or nothing. */
export function checkContentType(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (type === undefined) return;
  const mime = type.split(';')[0]?.trim().toLowerCase();
  if (mime !== 'application/json') {
    throw new AgentApiError(415, 'UnsupportedMediaType', 'request bodies must be application/json');
  }
}

/** Parses a JSON body; an empty body is `{}` (verbs without parameters may send nothing). */
export function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8's message names the position, never echoes the body.
    const detail = error instanceof SyntaxError ? error.message : 'unparseable';
    throw new AgentApiError(400, 'MalformedJSON', `request body is not valid JSON: ${detail}`);
  }
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Writes an error answer. */
export function sendError(res: ServerResponse, error: AgentApiError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, error.toBody(), headers);
}
