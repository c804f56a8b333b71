/** WebSocket connections end to end over a real loopback HTTP server: handshake, messages both ways, fragments, ping, close, refusals. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { acceptUpgrade, connectWebSocket, encodeFrame, Opcode, refuseUpgrade, WebSocketRefusedError, type WebSocketConnection } from '../../../src/ws/index.js';

let server: Server;
let port: number;
const serverSide: WebSocketConnection[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/forbidden') return refuseUpgrade(socket, 403, 'Forbidden', 'no console for you');
    const ws = acceptUpgrade(req, socket, head);
    if (!ws) return;
    serverSide.push(ws);
    // Echo, upper-cased, as the same message type.
    ws.on('message', (data, binary) => ws.send(binary ? Buffer.from(data.toString().toUpperCase()) : data.toString().toUpperCase()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const ws of serverSide) ws.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const nextMessage = (ws: WebSocketConnection) => new Promise<[string, boolean]>((r) => ws.once('message', (d, b) => r([d.toString(), b])));

describe('WebSocketConnection', () => {
  it('exchanges text and binary messages both ways', async () => {
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/echo`);
    const text = nextMessage(ws);
    ws.send('hello');
    expect(await text).toEqual(['HELLO', false]);
    const bin = nextMessage(ws);
    ws.send(Buffer.from('bytes'));
    expect(await bin).toEqual(['BYTES', true]);
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.close(1000, 'bye');
    expect(await closed).toBe(1000);
  });

  it('reassembles fragmented messages and answers pings, from a raw client', async () => {
    const socket: Socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write(encodeFrame(Opcode.Text, Buffer.from('ab'), { fin: false, mask: true }));
    socket.write(encodeFrame(Opcode.Ping, Buffer.from('hi'), { mask: true }));
    socket.write(encodeFrame(Opcode.Continuation, Buffer.from('cd'), { mask: true }));
    await new Promise((r) => setTimeout(r, 200));
    const all = Buffer.concat(received);
    const text = all.toString('latin1');
    expect(text).toContain('HTTP/1.1 101 Switching Protocols');
    expect(text).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const frames = all.subarray(all.indexOf('\r\n\r\n') + 4);
    // The pong (answering in the middle of the fragmented message), then the echoed whole message.
    expect(frames).toEqual(Buffer.concat([encodeFrame(Opcode.Pong, Buffer.from('hi')), encodeFrame(Opcode.Text, Buffer.from('ABCD'))]));
    socket.destroy();
  });

  it('closes with 1002 when a client sends an unmasked frame', async () => {
    const socket: Socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    const ended = new Promise((r) => socket.on('close', r));
    socket.write(encodeFrame(Opcode.Text, Buffer.from('a')));
    await ended;
    const all = Buffer.concat(received);
    const frames = all.subarray(all.indexOf('\r\n\r\n') + 4);
    expect([frames[0], frames.readUInt16BE(2)]).toEqual([0x88, 1002]);
  });

  it('reports a refused upgrade with its status and body', async () => {
    const error = await connectWebSocket(`ws://127.0.0.1:${port}/forbidden`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketRefusedError);
    expect((error as WebSocketRefusedError).status).toBe(403);
    expect((error as WebSocketRefusedError).body).toContain('no console for you');
  });
});
