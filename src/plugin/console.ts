/**
 * `console VM`: connects to the operator's console proxy with the user's
 * kubeconfig credentials and wires the terminal to it. The terminal is in
 * raw mode when stdin is a TTY (every key goes to the guest); Ctrl-] (0x1d)
 * leaves, as in `virsh console`.
 *
 * @packageDocumentation
 */
import type { UserCredentials } from '../kube/plugin-api.js';
import { connectWebSocket, WebSocketRefusedError, type WebSocketConnection } from '../ws/index.js';
import { PluginError } from './commands.js';

/** The escape byte: Ctrl-]. */
export const ESCAPE = 0x1d;

/** Where the console's bytes go and come from. */
export interface ConsoleTerminal {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Options of {@link runConsole}. */
export interface ConsoleOptions {
  /** The proxy's base URL (`https://host:9444`). */
  baseUrl: string;
  namespace: string;
  vm: string;
  credentials: UserCredentials;
  /** CA of the proxy's serving certificate (PEM); the system's CAs when absent. */
  ca?: string | Buffer;
  insecureSkipTlsVerify: boolean;
}

/** The proxy URL of a VM's console. */
export function consoleUrl(baseUrl: string, namespace: string, vm: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return `${base}/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(vm)}/console`;
}

/** Splits typed input at the escape byte: what to send, and whether the user asked to leave. */
export function splitAtEscape(data: Buffer): { send: Buffer; escape: boolean } {
  const i = data.indexOf(ESCAPE);
  return i < 0 ? { send: data, escape: false } : { send: data.subarray(0, i), escape: true };
}

/** The proxy's one-line refusal (`HTTP 403: user ... may not update ...`). */
export function refusalMessage(error: WebSocketRefusedError): string {
  try {
    const body = JSON.parse(error.body) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') return `console refused (HTTP ${error.status}): ${body.error.message}`;
  } catch {
    /* not JSON */
  }
  return `console refused (HTTP ${error.status})`;
}

/** Connects and relays until the user leaves (exit 0) or the console ends (0 on a normal close, 1 otherwise). */
export async function runConsole(options: ConsoleOptions, term: ConsoleTerminal): Promise<number> {
  let ws: WebSocketConnection;
  try {
    ws = await connectWebSocket(consoleUrl(options.baseUrl, options.namespace, options.vm), {
      headers: options.credentials.headers,
      ...(options.credentials.cert !== undefined ? { cert: options.credentials.cert } : {}),
      ...(options.credentials.key !== undefined ? { key: options.credentials.key } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      rejectUnauthorized: !options.insecureSkipTlsVerify,
    });
  } catch (error) {
    if (error instanceof WebSocketRefusedError) throw new PluginError(refusalMessage(error));
    throw new PluginError(`cannot reach the console proxy at ${options.baseUrl}: ${(error as Error).message}`);
  }
  term.stderr.write(`Connected to virtualmachine ${options.vm} (escape character is ^])\r\n`);
  const raw = term.stdin.isTTY === true && typeof term.stdin.setRawMode === 'function';
  if (raw) term.stdin.setRawMode?.(true);
  return new Promise<number>((resolve) => {
    let userLeft = false;
    const onInput = (chunk: Buffer | string) => {
      const { send, escape } = splitAtEscape(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      if (send.length > 0) ws.send(send);
      if (escape) {
        userLeft = true;
        ws.close(1000, 'user left');
      }
    };
    // Piped input (not a terminal) that ends: leave once the guest had a moment to answer the last line.
    const onEnd = () => {
      if (raw) return;
      setTimeout(() => {
        userLeft = true;
        ws.close(1000, 'input ended');
      }, 1000).unref();
    };
    term.stdin.on('data', onInput);
    term.stdin.once('end', onEnd);
    term.stdin.resume();
    ws.on('message', (data) => term.stdout.write(data));
    ws.on('close', (code, reason) => {
      term.stdin.off('data', onInput);
      term.stdin.off('end', onEnd);
      if (raw) term.stdin.setRawMode?.(false);
      term.stdin.pause();
      term.stderr.write('\r\n');
      if (userLeft || code === 1000) return resolve(0);
      term.stderr.write(`${`console closed (${code}${reason ? `: ${reason}` : ''})`.slice(0, 300)}\n`);
      resolve(1);
    });
  });
}
