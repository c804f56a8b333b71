/**
 * WebSocket frames (RFC 6455 §5): encoding, and an incremental parser that
 * turns a byte stream into frames. Pure: no sockets here.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One of {@link Opcode}'s values. */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/** A decoded frame; `payload` is already unmasked. */
export interface Frame {
  fin: boolean;
  opcode: OpcodeValue;
  payload: Buffer;
  /** Whether the frame arrived masked. */
  masked: boolean;
}

/** A violation of the protocol; `code` is the close code to answer with (1002 protocol error, 1009 too big). */
export class WebSocketProtocolError extends Error {
  constructor(
    message: string,
    readonly code: 1002 | 1007 | 1009 = 1002,
  ) {
    super(message);
    this.name = 'WebSocketProtocolError';
  }
}

const KNOWN_OPCODES = new Set<number>(Object.values(Opcode));

/** Whether `opcode` is a control frame (close, ping, pong). */
export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** XORs `data` in place with the 4-byte `mask` (masking and unmasking are the same operation). */
export function applyMask(data: Buffer, mask: Buffer): Buffer {
  for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) ^ (mask[i & 3] as number);
  return data;
}

/**
 * Encodes one frame. Clients must mask (`mask: true` picks a random key;
 * a Buffer gives a fixed key, for tests); servers must not.
 */
export function encodeFrame(opcode: OpcodeValue, payload: Buffer, options: { fin?: boolean; mask?: boolean | Buffer } = {}): Buffer {
  const fin = options.fin ?? true;
  if (isControl(opcode) && (payload.length > 125 || !fin)) throw new RangeError('control frames carry at most 125 bytes and are never fragmented');
  const maskKey = options.mask === true ? randomBytes(4) : Buffer.isBuffer(options.mask) ? options.mask : undefined;
  if (maskKey !== undefined && maskKey.length !== 4) throw new RangeError('a mask key has 4 bytes');
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const header = Buffer.alloc(2 + lenBytes + (maskKey ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | opcode;
  const maskBit = maskKey ? 0x80 : 0;
  if (lenBytes === 0) header[1] = maskBit | len;
  else if (lenBytes === 2) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(len, 2);
  } else {
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!maskKey) return Buffer.concat([header, payload]);
  maskKey.copy(header, 2 + lenBytes);
  return Buffer.concat([header, applyMask(Buffer.from(payload), maskKey)]);
}

/** Close frame payload: 2-byte code and a UTF-8 reason (cut to fit 125 bytes). */
export function closePayload(code: number, reason = ''): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const out = Buffer.alloc(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}

/** Reads a close frame's payload: code 1005 (no status) when empty. */
export function parseClosePayload(payload: Buffer): { code: number; reason: string } {
  if (payload.length === 0) return { code: 1005, reason: '' };
  if (payload.length === 1) throw new WebSocketProtocolError('close frame with a 1-byte payload');
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /** `true`: frames must be masked (a server reading a client); `false`: must not be (a client reading a server). */
  expectMasked: boolean;
  /** Largest frame payload accepted; default 1 MiB. */
  maxPayload?: number;
}

/** Incremental frame parser: `push` bytes as they arrive, get the complete frames back. */
export class FrameParser {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly maxPayload: number;

  constructor(private readonly options: FrameParserOptions) {
    this.maxPayload = options.maxPayload ?? 1024 * 1024;
  }

  /**
   * Adds bytes; returns every frame they complete.
   * @throws WebSocketProtocolError on a malformed frame (the connection must then be closed).
   */
  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  private next(): Frame | undefined {
    const b = this.buffer;
    if (b.length < 2) return undefined;
    const b0 = b[0] as number;
    const b1 = b[1] as number;
    if ((b0 & 0x70) !== 0) throw new WebSocketProtocolError('reserved bits set (no extension was negotiated)');
    const opcode = b0 & 0x0f;
    if (!KNOWN_OPCODES.has(opcode)) throw new WebSocketProtocolError(`unknown opcode ${opcode}`);
    const fin = (b0 & 0x80) !== 0;
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.options.expectMasked) {
      throw new WebSocketProtocolError(this.options.expectMasked ? 'client frames must be masked' : 'server frames must not be masked');
    }
    let len = b1 & 0x7f;
    let offset = 2;
    if (len === 126) {
      if (b.length < 4) return undefined;
      len = b.readUInt16BE(2);
      offset = 4;
    } else if (len === 127) {
      if (b.length < 10) return undefined;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.maxPayload)) throw new WebSocketProtocolError('frame too big', 1009);
      len = Number(big);
      offset = 10;
    }
    if (isControl(opcode) && (len > 125 || !fin)) throw new WebSocketProtocolError('control frames carry at most 125 bytes and are never fragmented');
    if (len > this.maxPayload) throw new WebSocketProtocolError('frame too big', 1009);
    const maskLen = masked ? 4 : 0;
    if (b.length < offset + maskLen + len) return undefined;
    const payload = Buffer.from(b.subarray(offset + maskLen, offset + maskLen + len));
    if (masked) applyMask(payload, b.subarray(offset, offset + 4));
    this.buffer = b.subarray(offset + maskLen + len);
    return { fin, opcode: opcode as OpcodeValue, payload, masked };
  }
}
