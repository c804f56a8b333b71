/**
 * An incremental Server-Sent Events parser (the WHATWG event-stream
 * format): feed it chunks as they arrive, get complete messages back.
 * Comment lines (heartbeats) produce no message but still count as
 * activity for the caller.
 */

/** One dispatched SSE message. */
export interface SseMessage {
  /** `event:` field; "message" when absent. */
  event: string;
  data: string;
  /** `id:` field of this message, when it had one. */
  id?: string;
  /** `retry:` hint, in ms, when sent. */
  retry?: number;
}

/** Stateful SSE parser. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  private retry: number | undefined;
  private readonly decoder = new TextDecoder('utf-8');

  /** Feeds bytes; returns the messages completed by them. */
  push(chunk: Uint8Array | string): SseMessage[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const out: SseMessage[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (this.buffer[nl] === '\r' && nl === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith('\r\n', nl) ? 2 : 1));
      const message = this.line(line);
      if (message !== undefined) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const hasData = this.data.length > 0;
    const message: SseMessage = { event: this.event || 'message', data: this.data.join('\n') };
    if (this.id !== undefined) message.id = this.id;
    if (this.retry !== undefined) message.retry = this.retry;
    this.data = [];
    this.event = '';
    this.id = undefined;
    this.retry = undefined;
    // A block with only id/retry (like the stream's opening `retry:`) is not an event.
    return hasData ? message : undefined;
  }
}
