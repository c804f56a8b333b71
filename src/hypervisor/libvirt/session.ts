/**
 * A long-lived interactive `virsh -q -c <uri>` child that runs requests one
 * at a time, in order, over its stdin (framing: session-protocol.ts).
 *
 * Why: a virsh process costs a fork+exec, loading libvirt, and a new
 * connection to libvirtd (for TCP: a handshake and the RPC setup) before
 * its command runs; one call of the agent used to start ~7 of them. A
 * session pays that once and keeps the connection; virsh itself reconnects
 * when libvirtd went away in between.
 *
 * Failure handling:
 * - the child exits or cannot start: the request in flight fails
 *   (`Unavailable` unless virsh said something more specific), and the next
 *   request starts a new child;
 * - a request takes longer than its timeout: the child is killed (SIGKILL),
 *   the request fails `Unavailable`, and the next request starts a new child.
 *   The timeout runs from when the request was queued, so a request never
 *   waits longer than asked, even behind a slow one.
 *
 * @packageDocumentation
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DriverError } from '../driver.js';
import { classifyLibvirtError, cleanVirshMessage } from './errors.js';
import { canCarry, decodeResponse, encodeRequest, StreamBuffer, withoutMarkers, type CommandOutput, type EncodedRequest } from './session-protocol.js';

/** What a session needs to start virsh. */
export interface SessionTarget {
  /** The virsh program. */
  readonly binary: string;
  /** The connection URI. */
  readonly uri: string;
  /** argv (without the program) for a command on this connection: `argv([])` starts the interactive shell. */
  argv(args: readonly string[]): string[];
}

/** Options of {@link VirshSession}. */
export interface VirshSessionOptions {
  /** Environment of the child (the C locale, see virsh.ts). */
  env: NodeJS.ProcessEnv;
  /** Ends the child after this long without a request (0 = never). */
  idleCloseMs?: number;
}

interface Request {
  commands: readonly (readonly string[])[];
  timeoutMs: number;
  resolve: (outputs: CommandOutput[]) => void;
  reject: (err: DriverError) => void;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

interface InFlight {
  request: Request;
  encoded: EncodedRequest;
  stdout?: string;
  stderr?: string;
}

/**
 * Environment additions for the interactive shell: no command history
 * (virsh would otherwise keep every command in memory and write them to
 * ~/.cache/libvirt/virsh/history on exit), no user readline configuration,
 * and a terminal wide enough that readline echoes a line as it is instead of
 * redrawing it in pieces.
 */
const SESSION_ENV = { VIRSH_HISTSIZE: '0', INPUTRC: '/dev/null', TERM: 'dumb', COLUMNS: '1000000' } as const;

/** One interactive virsh child and its queue of requests. */
export class VirshSession {
  private child: ChildProcess | undefined;
  private readonly out = new StreamBuffer();
  private readonly err = new StreamBuffer();
  private nonce = '';
  private seq = 0;
  private readonly queue: Request[] = [];
  private inFlight: InFlight | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Children started so far (diagnostics and tests). */
  private starts = 0;

  constructor(
    private readonly target: SessionTarget,
    private readonly options: VirshSessionOptions,
  ) {}

  /** The current child's PID, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many children this session has started (a restart adds one). */
  get started(): number {
    return this.starts;
  }

  /** Requests queued or in flight. */
  get load(): number {
    return this.queue.length + (this.inFlight ? 1 : 0);
  }

  /**
   * Runs `commands` (each an argv array the caller checked with canCarry)
   * as one request and returns each command's stdout and stderr. A command
   * that failed is not an error here (see commandFailed); a line virsh
   * could not parse is.
   *
   * @throws DriverError `Unavailable` when virsh cannot be started, exits,
   *   or the request times out; a classified error for a line virsh refused;
   *   `InvalidSpec`, before anything is sent, for commands a line cannot carry.
   */
  run(commands: readonly (readonly string[])[], timeoutMs: number): Promise<CommandOutput[]> {
    if (this.closed) return Promise.reject(new DriverError('Unavailable', 'virsh session closed'));
    if (!canCarry(commands)) return Promise.reject(new DriverError('InvalidSpec', `not plain virsh commands: ${JSON.stringify(commands)}`));
    return new Promise((resolve, reject) => {
      const request: Request = { commands, timeoutMs, resolve, reject, settled: false };
      if (timeoutMs > 0) request.timer = setTimeout(() => this.expire(request), timeoutMs);
      this.queue.push(request);
      this.pump();
    });
  }

  /**
   * Ends the child and fails whatever is queued. An idle child gets EOF on
   * its stdin (SIGKILL after `graceMs`); a busy one would only read it after
   * its command, whose answer nobody waits for any more, so it is killed.
   */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    for (const r of this.queue.splice(0)) this.settle(r, new DriverError('Unavailable', 'virsh session closed'));
    const busy = this.inFlight !== undefined;
    if (this.inFlight) this.settle(this.inFlight.request, new DriverError('Unavailable', 'virsh session closed'));
    this.inFlight = undefined;
    await this.stopChild(busy ? 0 : graceMs);
  }

  private pump(): void {
    if (this.inFlight || this.closed) return;
    const request = this.queue.shift();
    if (request === undefined) {
      this.armIdleClose();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const child = this.child ?? this.startChild();
    if (child instanceof DriverError) {
      // Nothing can run: this request and everything queued behind it fail alike.
      this.settle(request, child);
      this.failAll(child);
      return;
    }
    this.seq += 1;
    const encoded = encodeRequest(this.nonce, this.seq, request.commands);
    this.inFlight = { request, encoded };
    setRef(child, true);
    child.stdin?.write(encoded.text);
  }

  private startChild(): ChildProcess | DriverError {
    this.nonce = randomBytes(6).toString('hex');
    this.seq = 0;
    this.out.clear();
    this.err.clear();
    let child: ChildProcess;
    try {
      child = spawn(this.target.binary, this.target.argv([]), {
        env: { ...this.options.env, ...SESSION_ENV },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      return new DriverError('Unavailable', `cannot start ${this.target.binary}: ${String(e)}`);
    }
    this.starts += 1;
    this.child = child;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.onData(child, this.out, chunk));
    child.stderr?.on('data', (chunk: string) => this.onData(child, this.err, chunk));
    // EPIPE when the child is gone: its exit handler reports that.
    child.stdin?.on('error', () => undefined);
    child.on('error', (e: NodeJS.ErrnoException) => {
      const message = e.code === 'ENOENT' ? `${this.target.binary} not found: install libvirt-clients` : `${this.target.binary}: ${e.message}`;
      this.childGone(child, new DriverError('Unavailable', message));
    });
    child.on('close', (code, signal) => {
      // Whatever virsh printed last (e.g. "failed to connect to the hypervisor") says why.
      const said = cleanVirshMessage(withoutMarkers(this.err.clear()));
      const kind = said ? classifyLibvirtError(said) : 'Unavailable';
      const why = `virsh session exited (${signal ?? `code ${code ?? '?'}`})`;
      this.childGone(child, new DriverError(kind === 'Failed' ? 'Unavailable' : kind, said ? `${said} (${why})` : `${why} on ${this.target.uri}`));
    });
    return child;
  }

  private onData(child: ChildProcess, stream: StreamBuffer, chunk: string): void {
    if (child !== this.child) return;
    stream.push(chunk);
    const flight = this.inFlight;
    if (flight === undefined) {
      // Nothing asked: asynchronous chatter (e.g. a lost connection virsh
      // will re-establish); keep only the tail, for an exit message.
      if (stream === this.out) this.out.clear();
      else if (this.err.length > 4096) this.err.clear();
      return;
    }
    if (flight.stdout === undefined) flight.stdout = this.out.takeThrough(flight.encoded.syncStdout);
    if (flight.stderr === undefined) flight.stderr = this.err.takeThrough(flight.encoded.syncStderr, true);
    if (flight.stdout === undefined || flight.stderr === undefined) return;
    this.inFlight = undefined;
    setRef(child, false);
    const decoded = decodeResponse(flight.encoded, flight.stdout, flight.stderr);
    if (decoded.kind === 'commands') this.settle(flight.request, decoded.outputs);
    else {
      const message = cleanVirshMessage(decoded.stderr) || 'virsh refused the command line';
      this.settle(flight.request, new DriverError(classifyLibvirtError(message), message));
    }
    this.pump();
  }

  private expire(request: Request): void {
    if (request.settled) return;
    const what = `virsh ${request.commands.map((c) => c[0]).join(', ')} timed out after ${request.timeoutMs} ms (${this.target.uri})`;
    const queued = this.queue.indexOf(request);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(request, new DriverError('Unavailable', `${what}, waiting for an earlier command`));
      return;
    }
    // In flight: the child may hang forever; kill it, the next request gets a new one.
    this.settle(request, new DriverError('Unavailable', what));
    this.inFlight = undefined;
    const child = this.child;
    this.child = undefined;
    child?.kill('SIGKILL');
    this.pump();
  }

  /** The child ended or failed to start: fail the request in flight and let the next one start anew. */
  private childGone(child: ChildProcess, error: DriverError): void {
    if (child !== this.child) return;
    this.child = undefined;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const flight = this.inFlight;
    this.inFlight = undefined;
    if (flight) this.settle(flight.request, error);
    // A virsh that cannot start at all fails every queued request, not one per spawn.
    if (this.starts > 0 && child.pid === undefined) this.failAll(error);
    this.pump();
  }

  private failAll(error: DriverError): void {
    for (const r of this.queue.splice(0)) this.settle(r, error);
  }

  private settle(request: Request, outcome: CommandOutput[] | DriverError): void {
    if (request.settled) return;
    request.settled = true;
    if (request.timer) clearTimeout(request.timer);
    if (outcome instanceof DriverError) request.reject(outcome);
    else request.resolve(outcome);
  }

  private armIdleClose(): void {
    const ms = this.options.idleCloseMs ?? 0;
    if (ms <= 0 || this.child === undefined || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.inFlight === undefined && this.queue.length === 0) void this.stopChild(2000);
    }, ms);
    this.idleTimer.unref();
  }

  private async stopChild(graceMs: number): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdin?.end();
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(kill);
  }
}

/**
 * An idle session must not keep the Node.js process alive (the agent or a
 * test may simply end); one with a request in flight must.
 */
function setRef(child: ChildProcess, ref: boolean): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr]) {
    const h = handle as { ref?: () => void; unref?: () => void } | null;
    if (ref) h?.ref?.();
    else h?.unref?.();
  }
}
