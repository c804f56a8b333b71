/** WebSocket framing and handshake (RFC 6455), byte for byte. */
import {
  acceptKey,
  checkUpgradeRequest,
  closePayload,
  encodeFrame,
  FrameParser,
  Opcode,
  parseClosePayload,
  WebSocketProtocolError,
} from '../../../src/ws/index.js';

describe('handshake', () => {
  it('computes the accept key of RFC 6455 §1.3', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('accepts a valid upgrade request and names what is wrong otherwise', () => {
    const headers = { upgrade: 'websocket', connection: 'keep-alive, Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    expect(checkUpgradeRequest('GET', headers)).toEqual({ key: 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(checkUpgradeRequest('POST', headers)).toEqual({ error: expect.stringContaining('GET') });
    expect(checkUpgradeRequest('GET', { ...headers, 'sec-websocket-version': '8' })).toEqual({ error: expect.stringContaining('13') });
    expect(checkUpgradeRequest('GET', { ...headers, 'sec-websocket-key': 'short' })).toEqual({ error: expect.stringContaining('Key') });
    expect(checkUpgradeRequest('GET', { ...headers, upgrade: 'h2c' })).toEqual({ error: expect.stringContaining('Upgrade') });
  });
});

describe('encodeFrame', () => {
  it('encodes the RFC examples: unmasked and masked "Hello"', () => {
    expect(encodeFrame(Opcode.Text, Buffer.from('Hello'))).toEqual(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
    expect(encodeFrame(Opcode.Text, Buffer.from('Hello'), { mask: Buffer.from([0x37, 0xfa, 0x21, 0x3d]) })).toEqual(
      Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    );
  });

  it('uses 16- and 64-bit lengths past 125 and 65535 bytes', () => {
    const mid = encodeFrame(Opcode.Binary, Buffer.alloc(256));
    expect([mid[0], mid[1], mid.readUInt16BE(2), mid.length]).toEqual([0x82, 126, 256, 4 + 256]);
    const big = encodeFrame(Opcode.Binary, Buffer.alloc(65536));
    expect([big[1], Number(big.readBigUInt64BE(2)), big.length]).toEqual([127, 65536, 10 + 65536]);
  });

  it('refuses control frames over 125 bytes', () => {
    expect(() => encodeFrame(Opcode.Ping, Buffer.alloc(126))).toThrow(RangeError);
  });

  it('does not mask the caller\'s buffer in place', () => {
    const data = Buffer.from('abc');
    encodeFrame(Opcode.Binary, data, { mask: true });
    expect(data.toString()).toBe('abc');
  });
});

describe('FrameParser', () => {
  it('round-trips masked frames split at every byte boundary', () => {
    const payload = Buffer.from('x'.repeat(300));
    const wire = Buffer.concat([encodeFrame(Opcode.Binary, payload, { mask: true }), encodeFrame(Opcode.Ping, Buffer.from('p'), { mask: true })]);
    const parser = new FrameParser({ expectMasked: true });
    const frames = [];
    for (const byte of wire) frames.push(...parser.push(Buffer.from([byte])));
    expect(frames.map((f) => [f.opcode, f.fin, f.masked, f.payload.toString()])).toEqual([
      [Opcode.Binary, true, true, payload.toString()],
      [Opcode.Ping, true, true, 'p'],
    ]);
  });

  it('parses a 64-bit length frame', () => {
    const payload = Buffer.alloc(70_000, 7);
    const [frame] = new FrameParser({ expectMasked: false }).push(encodeFrame(Opcode.Binary, payload));
    expect(frame?.payload.equals(payload)).toBe(true);
  });

  it('keeps fragments apart (fin flag and continuation opcode)', () => {
    const wire = Buffer.concat([
      encodeFrame(Opcode.Text, Buffer.from('Hel'), { fin: false }),
      encodeFrame(Opcode.Continuation, Buffer.from('lo')),
    ]);
    const frames = new FrameParser({ expectMasked: false }).push(wire);
    expect(frames.map((f) => [f.opcode, f.fin])).toEqual([
      [Opcode.Text, false],
      [Opcode.Continuation, true],
    ]);
  });

  it('refuses unmasked client frames, masked server frames, reserved bits, unknown opcodes and oversized frames', () => {
    expect(() => new FrameParser({ expectMasked: true }).push(encodeFrame(Opcode.Text, Buffer.from('a')))).toThrow(/must be masked/);
    expect(() => new FrameParser({ expectMasked: false }).push(encodeFrame(Opcode.Text, Buffer.from('a'), { mask: true }))).toThrow(/must not be masked/);
    expect(() => new FrameParser({ expectMasked: false }).push(Buffer.from([0xc1, 0x00]))).toThrow(/reserved/);
    expect(() => new FrameParser({ expectMasked: false }).push(Buffer.from([0x83, 0x00]))).toThrow(/opcode 3/);
    const tooBig = (): unknown => new FrameParser({ expectMasked: false, maxPayload: 10 }).push(encodeFrame(Opcode.Binary, Buffer.alloc(11)));
    expect(tooBig).toThrow(WebSocketProtocolError);
    try {
      tooBig();
    } catch (e) {
      expect((e as WebSocketProtocolError).code).toBe(1009);
    }
  });

  it('refuses fragmented control frames', () => {
    expect(() => new FrameParser({ expectMasked: false }).push(Buffer.from([0x09, 0x00]))).toThrow(/control frames/);
  });
});

describe('close payload', () => {
  it('carries a code and a reason, and an empty one means 1005', () => {
    expect(parseClosePayload(closePayload(4403, 'forbidden'))).toEqual({ code: 4403, reason: 'forbidden' });
    expect(parseClosePayload(Buffer.alloc(0))).toEqual({ code: 1005, reason: '' });
    expect(closePayload(1000, 'é'.repeat(100)).length).toBeLessThanOrEqual(125);
  });
});
