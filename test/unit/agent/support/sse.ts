/** A raw SSE reader for tests: collects messages and heartbeat comments from `GET /v1/events`. */
import { request as httpsRequest } from 'node:https';
import type { ClientRequest } from 'node:http';
import { agentEvent, type AgentEvent } from '../../../../src/api/agent/index.js';
import { SseParser, type SseMessage } from '../../../../src/agent/client/index.js';
import type { Harness } from './harness.js';

/** An open event stream. */
export interface TestStream {
  status: number;
  messages: SseMessage[];
  /** Events, validated with the shared schema. */
  events(): AgentEvent[];
  raw(): string;
  /** Resolves once `pred` holds (polling), or rejects after `timeoutMs`. */
  until(pred: () => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
  ended: Promise<void>;
}

/** Opens `GET /v1/events` with the valid client certificate. */
export function openStream(h: Harness, headers: Record<string, string> = {}): Promise<TestStream> {
  return new Promise((resolve, reject) => {
    const parser = new SseParser();
    const messages: SseMessage[] = [];
    let raw = '';
    let endResolve!: () => void;
    const ended = new Promise<void>((r) => (endResolve = r));
    const req: ClientRequest = httpsRequest(
      {
        host: '127.0.0.1',
        port: h.port,
        path: '/v1/events',
        headers: { accept: 'text/event-stream', ...headers },
        agent: false,
        ca: h.pki.ca,
        cert: h.pki.client.cert,
        key: h.pki.client.key,
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          raw += chunk;
          messages.push(...parser.push(chunk));
        });
        res.on('end', endResolve);
        res.on('error', endResolve);
        res.on('close', endResolve);
        resolve({
          status: res.statusCode ?? 0,
          messages,
          events: () => messages.map((m) => agentEvent.parse(JSON.parse(m.data))),
          raw: () => raw,
          async until(pred, timeoutMs = 2000) {
            const deadline = Date.now() + timeoutMs;
            while (!pred()) {
              if (Date.now() > deadline) throw new Error(`stream condition not met within ${timeoutMs} ms; got: ${raw.slice(-2000)}`);
              await new Promise((r) => setTimeout(r, 2));
            }
          },
          close: () => req.destroy(),
          ended,
        });
      },
    );
    req.on('error', (e) => {
      endResolve();
      reject(e);
    });
    req.end();
  });
}
