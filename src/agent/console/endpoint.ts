/**
 * The agent's console verb: `GET /v1/vms/{uid}/console` upgraded to a
 * WebSocket (on the same mutual-TLS server as every other verb, so only
 * holders of a certificate from the Manager's CA reach it). Binary messages
 * carry console bytes both ways. One session per VM: a new one ends the
 * previous (like `virsh console --force`).
 *
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { vmParams } from '../../api/agent/vms.js';
import { acceptUpgrade, refuseUpgrade, type WebSocketConnection } from '../../ws/index.js';
import { ConsoleError, type ConsoleSource, type ConsoleStream } from './pty.js';

/** Path of the console verb for a VM UID. */
export function consolePath(uid: string): string {
  return `/v1/vms/${encodeURIComponent(uid)}/console`;
}

const CONSOLE_PATH = /^\/v1\/vms\/([^/?#]+)\/console$/;

/** Close code sent when a newer session took the console over. */
export const CONSOLE_TAKEN_OVER = 4409;

/** Handles upgrade requests of the agent server; anything but the console path is refused with 404. */
export class ConsoleEndpoint {
  private readonly sessions = new Map<string, { ws: WebSocketConnection; stream: ConsoleStream }>();

  constructor(
    private readonly source: ConsoleSource | undefined,
    private readonly log: Logger,
  ) {}

  /** The `upgrade` listener of the agent's HTTPS server. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, client: string | undefined): void {
    void this.serve(req, socket, head, client).catch((error: unknown) => {
      this.log.error({ err: error }, 'console session failed');
      socket.destroy();
    });
  }

  private async serve(req: IncomingMessage, socket: Duplex, head: Buffer, client: string | undefined): Promise<void> {
    const pathname = (req.url ?? '/').split(/[?#]/)[0] ?? '/';
    const match = CONSOLE_PATH.exec(pathname);
    if (!match) return refuseUpgrade(socket, 404, 'NotFound', `no WebSocket route for ${pathname.slice(0, 200)}`);
    let uid: string;
    try {
      const parsed = vmParams.safeParse({ uid: decodeURIComponent(match[1] as string) });
      if (!parsed.success) return refuseUpgrade(socket, 400, 'InvalidField', 'uid: must be a UUID');
      uid = parsed.data.uid;
    } catch {
      return refuseUpgrade(socket, 400, 'InvalidField', 'uid: is not valid percent-encoding');
    }
    if (!this.source) return refuseUpgrade(socket, 501, 'NotImplemented', 'this hypervisor has no consoles');
    let stream: ConsoleStream;
    try {
      stream = await this.source.open(uid);
    } catch (error) {
      if (error instanceof ConsoleError) {
        const status = error.reason === 'NotFound' ? 404 : error.reason === 'NotRunning' ? 409 : 500;
        return refuseUpgrade(socket, status, error.reason, error.message);
      }
      throw error;
    }
    const ws = acceptUpgrade(req, socket, head);
    if (!ws) {
      stream.close();
      return;
    }
    const previous = this.sessions.get(uid);
    if (previous) {
      previous.ws.close(CONSOLE_TAKEN_OVER, 'another console session took over');
      previous.stream.close();
    }
    this.sessions.set(uid, { ws, stream });
    this.log.info({ uid, client }, 'console session opened');
    stream.onData((data) => ws.send(data));
    stream.onEnd(() => ws.close(1000, 'console ended'));
    ws.on('message', (data) => stream.write(data));
    ws.on('close', () => {
      stream.close();
      if (this.sessions.get(uid)?.ws === ws) this.sessions.delete(uid);
      this.log.info({ uid, client }, 'console session closed');
    });
  }

  /** Ends every session (agent shutdown). */
  closeAll(): void {
    for (const { ws, stream } of this.sessions.values()) {
      ws.close(1001, 'agent stopping');
      stream.close();
    }
    this.sessions.clear();
  }
}
