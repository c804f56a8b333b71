/**
 * `GET /v1/events` as Server-Sent Events: replay from `Last-Event-ID`, then
 * live events, with a comment line every `heartbeatMs` so the operator (and
 * any proxy) can tell a quiet stream from a dead one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentEvent, RecordedAgentEvent } from '../../api/agent/index.js';
import type { EventHub } from './event-hub.js';

/** A client this far behind (bytes queued) is cut off; it reconnects and replays or relists. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** One SSE message. Only recorded events carry an id, so a client's Last-Event-ID never points at a synthetic one. */
export function formatSseMessage(event: AgentEvent): string {
  const id = 'id' in event ? `id: ${event.id}\n` : '';
  return `${id}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Options of {@link serveEventStream}. */
export interface EventStreamOptions {
  heartbeatMs: number;
  /** Suggested reconnect delay sent to the client (`retry:`). */
  retryMs?: number;
  /** Called when the stream ends, for the request log. */
  onClose?: () => void;
}

/**
 * Streams the hub to one client until it goes away or `close()` is called.
 * @returns a function that ends the stream (used on server shutdown).
 */
export function serveEventStream(req: IncomingMessage, res: ServerResponse, hub: EventHub, options: EventStreamOptions): () => void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // nginx and similar buffer responses unless told not to; events must not wait.
    'x-accel-buffering': 'no',
  });
  // The stream lives as long as the client wants it; no idle timeout on this socket.
  req.socket.setTimeout(0);

  let closed = false;
  const write = (text: string): void => {
    if (closed) return;
    res.write(text);
    if (res.writableLength > MAX_QUEUED_BYTES) {
      end();
      res.destroy();
    }
  };

  const lastEventId = req.headers['last-event-id'];
  // Subscribe and replay in the same tick: nothing can be published in between.
  const unsubscribe = hub.subscribe((e: RecordedAgentEvent) => write(formatSseMessage(e)));
  const replay = hub.replay(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId);

  write(`retry: ${options.retryMs ?? 1000}\n\n`);
  if (replay.lost) {
    write(
      formatSseMessage({
        type: 'EventsLost',
        time: new Date().toISOString(),
        message: 'cannot replay from the given Last-Event-ID (agent restarted or events expired): relist',
      }),
    );
  }
  for (const e of replay.events) write(formatSseMessage(e));

  const heartbeat = setInterval(() => write(`: heartbeat ${new Date().toISOString()}\n\n`), options.heartbeatMs);

  function end(): void {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
    options.onClose?.();
  }
  // The response closes when the client goes away (or the stream is ended here).
  res.on('close', end);
  return end;
}
