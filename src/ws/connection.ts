/**
 * A WebSocket connection over an upgraded socket: messages (reassembled
 * from fragments), automatic pong answers, and the close handshake.
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { closePayload, encodeFrame, FrameParser, Opcode, parseClosePayload, WebSocketProtocolError, type Frame } from './frame.js';

/** Events of a {@link WebSocketConnection}. */
export interface WebSocketEvents {
  /** A complete message: text (`binary` false, UTF-8 bytes) or binary. */
  message: [data: Buffer, binary: boolean];
  /** The connection ended: the peer's close code (1006 when the socket just went away) and reason. */
  close: [code: number, reason: string];
}

/** Options of a {@link WebSocketConnection}. */
export interface WebSocketConnectionOptions {
  /** `client` masks what it sends and expects unmasked frames; `server` the opposite. */
  role: 'client' | 'server';
  /** Bytes already read past the handshake. */
  head?: Buffer;
  /** Largest message accepted (frames and reassembled messages); default 1 MiB. */
  maxPayload?: number;
  /** How long close() waits for the peer's close frame before ending the socket; default 2 s. */
  closeTimeoutMs?: number;
}

/** One WebSocket connection (RFC 6455) in either role. */
export class WebSocketConnection extends EventEmitter<WebSocketEvents> {
  private readonly parser: FrameParser;
  private readonly mask: boolean;
  private readonly maxPayload: number;
  private fragments: Buffer[] = [];
  private fragmentOpcode: number | undefined;
  private fragmentSize = 0;
  private closeSent = false;
  private closed = false;
  private closeInfo: { code: number; reason: string } = { code: 1006, reason: '' };

  constructor(
    private readonly socket: Duplex,
    private readonly options: WebSocketConnectionOptions,
  ) {
    super();
    this.mask = options.role === 'client';
    this.maxPayload = options.maxPayload ?? 1024 * 1024;
    this.parser = new FrameParser({ expectMasked: options.role === 'server', maxPayload: this.maxPayload });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
    socket.on('end', () => socket.end());
    if (options.head && options.head.length > 0) queueMicrotask(() => this.receive(options.head as Buffer));
  }

  /** Whether the connection is still open for sending. */
  get open(): boolean {
    return !this.closeSent && !this.closed;
  }

  /** Sends a binary message (a Buffer) or a text message (a string). Returns false when the socket buffers (backpressure). */
  send(data: Buffer | string): boolean {
    if (!this.open) return false;
    const binary = Buffer.isBuffer(data);
    return this.socket.write(encodeFrame(binary ? Opcode.Binary : Opcode.Text, binary ? data : Buffer.from(data, 'utf8'), { mask: this.mask }));
  }

  /** Sends a ping (the peer answers with a pong carrying the same payload). */
  ping(payload: Buffer = Buffer.alloc(0)): void {
    if (this.open) this.socket.write(encodeFrame(Opcode.Ping, payload, { mask: this.mask }));
  }

  /** Starts the close handshake; the socket ends when the peer answers or after the close timeout. */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    if (!this.closeSent) {
      this.closeSent = true;
      this.socket.write(encodeFrame(Opcode.Close, closePayload(code, reason), { mask: this.mask }));
      // A server ends the TCP connection first (RFC 6455 §7.1.1); a client waits for it.
      if (this.options.role === 'server') this.socket.end();
    }
    const timer = setTimeout(() => this.socket.destroy(), this.options.closeTimeoutMs ?? 2000);
    timer.unref();
  }

  /** Pauses reading (backpressure from where messages go). */
  pause(): void {
    this.socket.pause();
  }

  /** Resumes reading. */
  resume(): void {
    this.socket.resume();
  }

  /** Ends at once without a close handshake. */
  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.parser.push(chunk);
    } catch (error) {
      const code = error instanceof WebSocketProtocolError ? error.code : 1002;
      this.closeInfo = { code, reason: (error as Error).message };
      this.close(code, (error as Error).message);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      try {
        this.handle(frame);
      } catch (error) {
        const code = error instanceof WebSocketProtocolError ? error.code : 1002;
        this.closeInfo = { code, reason: (error as Error).message };
        this.close(code, (error as Error).message);
        this.socket.destroy();
        return;
      }
    }
  }

  private handle(frame: Frame): void {
    switch (frame.opcode) {
      case Opcode.Ping:
        if (!this.closeSent) this.socket.write(encodeFrame(Opcode.Pong, frame.payload, { mask: this.mask }));
        return;
      case Opcode.Pong:
        return;
      case Opcode.Close: {
        this.closeInfo = parseClosePayload(frame.payload);
        if (!this.closeSent) {
          this.closeSent = true;
          const echo = this.closeInfo.code === 1005 ? Buffer.alloc(0) : closePayload(this.closeInfo.code);
          this.socket.write(encodeFrame(Opcode.Close, echo, { mask: this.mask }));
        }
        this.socket.end();
        return;
      }
      case Opcode.Continuation:
        if (this.fragmentOpcode === undefined) throw new WebSocketProtocolError('continuation frame without a message to continue');
        this.addFragment(frame);
        return;
      default:
        if (this.fragmentOpcode !== undefined) throw new WebSocketProtocolError('new message before the previous one ended');
        this.fragmentOpcode = frame.opcode;
        this.addFragment(frame);
    }
  }

  private addFragment(frame: Frame): void {
    this.fragmentSize += frame.payload.length;
    if (this.fragmentSize > this.maxPayload) throw new WebSocketProtocolError('message too big', 1009);
    this.fragments.push(frame.payload);
    if (!frame.fin) return;
    const data = this.fragments.length === 1 ? (this.fragments[0] as Buffer) : Buffer.concat(this.fragments);
    const binary = this.fragmentOpcode === Opcode.Binary;
    this.fragments = [];
    this.fragmentOpcode = undefined;
    this.fragmentSize = 0;
    this.emit('message', data, binary);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', this.closeInfo.code, this.closeInfo.reason);
  }
}
