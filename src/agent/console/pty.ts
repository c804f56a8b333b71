/**
 * Finding and opening a domain's serial console: libvirt gives every Drover
 * domain a pty-backed serial port with a `<console>` on it (see
 * src/hypervisor/domainxml/console.ts); the live XML names the pty
 * (`<console type='pty' tty='/dev/pts/N'>`). The agent opens that pty in raw
 * mode, as `virsh console` does through libvirtd, so bytes pass unchanged.
 *
 * @packageDocumentation
 */
import { execFile } from 'node:child_process';
import { constants, openSync, closeSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';
import { DROVER_XMLNS } from '../../hypervisor/domainxml/types.js';

/** Why a console could not be opened: `NotFound` (no such Drover domain), `NotRunning` (no pty), or `Failed`. */
export class ConsoleError extends Error {
  constructor(
    readonly reason: 'NotFound' | 'NotRunning' | 'Failed',
    message: string,
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

/** An open console: bytes from the guest arrive on `onData`; `write` types into it. */
export interface ConsoleStream {
  write(data: Buffer): void;
  onData(listener: (data: Buffer) => void): void;
  /** Called once when the console ends (the domain stopped or `close()`). */
  onEnd(listener: () => void): void;
  close(): void;
}

/** Opens consoles of domains by their UUID (the VM's Kubernetes UID). */
export interface ConsoleSource {
  open(uid: string): Promise<ConsoleStream>;
}

const PTY_PATH = /^\/dev\/pts\/\d{1,6}$/;

/**
 * The console pty named in a live domain XML, or undefined. Accepts only
 * `/dev/pts/N` paths: the agent opens nothing else on a domain's behalf.
 */
export function consolePtyPath(xml: string): string | undefined {
  const consoleTag = /<console\b[^>]*\btype=['"]pty['"][^>]*>/.exec(xml)?.[0];
  const fromConsole = consoleTag ? /\btty=['"]([^'"]+)['"]/.exec(consoleTag)?.[1] : undefined;
  const serial = /<serial\b[^>]*\btype=['"]pty['"][^>]*>([\s\S]*?)<\/serial>/.exec(xml)?.[1];
  const fromSerial = serial ? /<source\b[^>]*\bpath=['"]([^'"]+)['"]/.exec(serial)?.[1] : undefined;
  const path = fromConsole ?? fromSerial;
  return path !== undefined && PTY_PATH.test(path) ? path : undefined;
}

/** Whether the domain XML carries Drover's metadata (domains the agent did not define are never touched). */
export function isDroverDomain(xml: string): boolean {
  return xml.includes(DROVER_XMLNS);
}

function dumpXml(uri: string, uid: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('virsh', ['-c', uri, 'dumpxml', '--', uid], { timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new ConsoleError(/failed to get domain|Domain not found/i.test(String(stderr)) ? 'NotFound' : 'Failed', String(stderr).trim() || error.message));
      else resolve(stdout);
    });
  });
}

/** A pty opened twice (one descriptor to read in raw mode, one to write). */
export function openPty(path: string): ConsoleStream {
  const flags = constants.O_RDWR | constants.O_NOCTTY;
  const readFd = openSync(path, flags);
  let writeFd: number;
  try {
    writeFd = openSync(path, flags);
  } catch (error) {
    closeSync(readFd);
    throw error;
  }
  const input = new ReadStream(readFd);
  // Raw: no echo of the guest's output back into it, no line buffering, no CR/LF translation.
  input.setRawMode(true);
  const output = new WriteStream(writeFd);
  const endListeners: (() => void)[] = [];
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    input.destroy();
    output.destroy();
    for (const l of endListeners) l();
  };
  input.on('end', end);
  input.on('close', end);
  input.on('error', end);
  output.on('error', end);
  return {
    write: (data) => void output.write(data),
    onData: (listener) => void input.on('data', (d: Buffer | string) => listener(Buffer.isBuffer(d) ? d : Buffer.from(d))),
    onEnd: (listener) => void endListeners.push(listener),
    close: end,
  };
}

/** Consoles of a libvirt host's domains: the pty from `virsh dumpxml`, opened directly. */
export class LibvirtPtyConsoles implements ConsoleSource {
  constructor(private readonly uri: string) {}

  async open(uid: string): Promise<ConsoleStream> {
    const xml = await dumpXml(this.uri, uid);
    if (!isDroverDomain(xml)) throw new ConsoleError('NotFound', `no Drover VM ${uid} on this host`);
    const path = consolePtyPath(xml);
    if (path === undefined) throw new ConsoleError('NotRunning', `VM ${uid} has no console now (is it running?)`);
    try {
      return openPty(path);
    } catch (error) {
      throw new ConsoleError('Failed', `cannot open the console of VM ${uid}: ${(error as Error).message}`);
    }
  }
}
