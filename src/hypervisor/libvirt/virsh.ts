/**
 * Runs virsh commands against one libvirt URI and turns failures into
 * {@link DriverError}s: through a small pool of long-lived interactive virsh
 * sessions (session.ts) when the command is made of plain tokens only, else
 * as `virsh -c <uri> <command...>` with an argv array in its own process
 * (never a shell either way).
 *
 * @packageDocumentation
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DriverError } from '../driver.js';
import { driverErrorFromVirsh } from './errors.js';
import { SessionPool } from './session-pool.js';
import { canCarry, commandFailed, decodeResponse, encodeRequest, estimateLineLength, type CommandOutput } from './session-protocol.js';

/** Default per-command timeout: long enough for a slow libvirtd, short enough to notice a hung one. */
export const DEFAULT_VIRSH_TIMEOUT_MS = 60_000;

/**
 * libvirt connection URIs Drover accepts: a scheme such as `qemu`,
 * `qemu+tcp`, `qemu+tls`, `qemu+ssh`, then `://`. Anything else (notably a
 * leading `-`, which virsh would read as an option) is refused.
 */
const URI_PATTERN = /^[a-z][a-z0-9+]*:\/\/[^\s]*$/;

/** UUID as libvirt prints it (either case is accepted, lower case is sent). */
const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Checks a domain UUID and returns it in lower case. Every virsh command
 * addresses a domain by UUID only, so a malformed value (or one starting
 * with `-`) never reaches virsh's option parser.
 *
 * @throws DriverError `InvalidSpec` for anything that is not a UUID.
 */
export function checkUuid(uuid: string): string {
  if (!UUID_PATTERN.test(uuid)) throw new DriverError('InvalidSpec', `not a domain UUID: ${JSON.stringify(uuid)}`);
  return uuid.toLowerCase();
}

/** Options of one virsh call. */
export interface VirshCallOptions {
  /** Kill virsh after this many milliseconds (default {@link DEFAULT_VIRSH_TIMEOUT_MS}); 0 = no limit. */
  timeoutMs?: number;
}

/** Options of {@link Virsh}. */
export interface VirshOptions {
  /**
   * Most interactive virsh sessions kept on the connection (default
   * {@link DEFAULT_VIRSH_SESSIONS}); 0 runs every command in its own process.
   */
  sessions?: number;
}

/**
 * Default session count: a slow domain start (0.5–1 s in libvirtd under TCG)
 * should not hold up reads and the other verbs, while the processes stay few
 * (~19 MiB RSS each). The operator makes at most 4 agent calls at once with
 * its default 4 workers; sessions beyond the first end when idle.
 */
export const DEFAULT_VIRSH_SESSIONS = 4;

/**
 * Longest request line sent through a session. virsh reads a session's
 * lines through readline, which costs two system calls per character (it
 * reads and echoes byte by byte): a `list()` of 40 domains (~16 KB) took
 * longer in a session than in a fresh process. Longer requests run as one
 * argv string in a process of their own, framed the same way.
 */
export const SESSION_LINE_LIMIT = 8192;

/** Longest argv string per process (Linux refuses one argument over 128 KiB). */
const ARGV_LINE_LIMIT = 100_000;

/** Splits `commands` into runs whose request lines stay under `limit`. */
function chunked(commands: readonly (readonly string[])[], limit: number): (readonly string[])[][] {
  const chunks: (readonly string[])[][] = [];
  let current: (readonly string[])[] = [];
  for (const command of commands) {
    if (current.length > 0 && estimateLineLength([...current, command]) > limit) {
      chunks.push(current);
      current = [];
    }
    current.push(command);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** One command's outcome within a {@link Virsh.batch}. */
export type CommandOutcome = { ok: true; stdout: string } | { ok: false; error: DriverError };

/** The outcome of a session command: its stdout, or the error virsh printed. */
function outcomeOf(command: readonly string[], output: CommandOutput): CommandOutcome {
  if (!commandFailed(output)) return { ok: true, stdout: output.stdout };
  return { ok: false, error: driverErrorFromVirsh(output.stderr, `virsh ${command.join(' ')} failed`) };
}

/** Runs virsh commands against one libvirt URI. */
export class Virsh {
  /** The connection URI passed as `-c`. */
  readonly uri: string;
  /** The virsh program (default `virsh` from PATH). */
  readonly binary: string;

  private readonly pool: SessionPool | undefined;

  /** @throws DriverError `InvalidSpec` for a malformed URI or session count. */
  constructor(uri: string, binary = 'virsh', options: VirshOptions = {}) {
    if (!URI_PATTERN.test(uri)) throw new DriverError('InvalidSpec', `not a libvirt URI: ${JSON.stringify(uri)}`);
    this.uri = uri;
    this.binary = binary;
    const sessions = options.sessions ?? DEFAULT_VIRSH_SESSIONS;
    if (!Number.isInteger(sessions) || sessions < 0) throw new DriverError('InvalidSpec', `sessions must be a non-negative integer, got ${sessions}`);
    this.pool = sessions > 0 ? new SessionPool(this, { size: sessions, env: Virsh.env() }) : undefined;
  }

  /** The session pool, when sessions are on (tests and diagnostics). */
  get sessions(): SessionPool | undefined {
    return this.pool;
  }

  /**
   * argv for a virsh command on this connection (without the program).
   * `-q` drops the "Domain 'x' started" chatter, so stdout carries data only.
   */
  argv(args: readonly string[]): string[] {
    return ['-q', '-c', this.uri, ...args];
  }

  /**
   * Environment for virsh: the C locale, because errors are classified by
   * their English text (see errors.ts).
   */
  static env(): NodeJS.ProcessEnv {
    return { ...process.env, LC_ALL: 'C', LANG: 'C' };
  }

  /**
   * Runs one command and returns its stdout: in a session when it can be
   * carried there, else in its own process.
   *
   * @throws DriverError classified from virsh's stderr; `Unavailable` when
   *   virsh cannot be started or times out.
   */
  async run(args: readonly string[], opts: VirshCallOptions = {}): Promise<string> {
    const [outcome] = await this.batch([args], opts);
    if (outcome === undefined) throw new DriverError('Failed', `virsh ${args[0] ?? ''}: no answer`);
    if (!outcome.ok) throw outcome.error;
    return outcome.stdout;
  }

  /**
   * Runs several commands, in order, and returns each one's outcome; a
   * failed command does not stop the ones after it. In a session this is
   * one round trip; a long batch runs framed in a process of its own (see
   * {@link SESSION_LINE_LIMIT}); commands that cannot be carried in a line
   * (a token virsh's line parser would interpret) run one by one as argv
   * in their own processes.
   *
   * @throws DriverError when virsh itself fails (cannot start, exits, times
   *   out, refuses the line): then no outcome is known.
   */
  async batch(commands: readonly (readonly string[])[], opts: VirshCallOptions = {}): Promise<CommandOutcome[]> {
    const timeout = opts.timeoutMs ?? DEFAULT_VIRSH_TIMEOUT_MS;
    if (canCarry(commands)) {
      const fitsSession = this.pool !== undefined && estimateLineLength(commands) <= SESSION_LINE_LIMIT;
      const outputs: CommandOutput[] = [];
      if (fitsSession && this.pool) outputs.push(...(await this.pool.run(commands, timeout)));
      else for (const chunk of chunked(commands, ARGV_LINE_LIMIT)) outputs.push(...(await this.execFramed(chunk, timeout)));
      return outputs.map((o, i) => outcomeOf(commands[i] ?? [], o));
    }
    const outcomes: CommandOutcome[] = [];
    for (const command of commands) {
      try {
        outcomes.push({ ok: true, stdout: await this.exec(command, opts) });
      } catch (error) {
        if (!(error instanceof DriverError) || error.kind === 'Unavailable') throw error;
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  }

  /**
   * Runs a batch as one argv string in its own process, framed like a
   * session request (virsh's argv form of a command line: no readline).
   */
  private execFramed(commands: readonly (readonly string[])[], timeout: number): Promise<CommandOutput[]> {
    const request = encodeRequest(randomBytes(6).toString('hex'), 0, commands);
    return new Promise((resolve, reject) => {
      execFile(
        this.binary,
        this.argv([request.line]),
        { env: Virsh.env(), timeout, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { killed?: boolean }) | null;
          if (e?.code === 'ENOENT') return reject(new DriverError('Unavailable', `${this.binary} not found: install libvirt-clients`));
          if (e?.killed) return reject(new DriverError('Unavailable', `virsh batch of ${commands.length} commands timed out after ${timeout} ms (${this.uri})`));
          // virsh exits non-zero when any command failed; the markers tell which.
          const decoded = decodeResponse(request, stdout, stderr);
          if (decoded.kind === 'commands') return resolve(decoded.outputs);
          reject(driverErrorFromVirsh(decoded.stderr, `virsh batch failed: ${e?.message ?? 'no answer'}`));
        },
      );
    });
  }

  /** Ends the sessions' virsh processes (idle ones do not keep Node.js running either). */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  /**
   * Runs one command in its own `virsh` process: for commands that may run
   * long (a migration) and must not hold up a session, or run alongside
   * one (its job control).
   *
   * @throws DriverError classified from virsh's stderr; `Unavailable` when
   *   virsh cannot be started or times out.
   */
  exec(args: readonly string[], opts: VirshCallOptions = {}): Promise<string> {
    const timeout = opts.timeoutMs ?? DEFAULT_VIRSH_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      execFile(
        this.binary,
        this.argv(args),
        { env: Virsh.env(), timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          if (e.code === 'ENOENT') return reject(new DriverError('Unavailable', `${this.binary} not found: install libvirt-clients`));
          if (e.killed) {
            return reject(new DriverError('Unavailable', `virsh ${args[0] ?? ''} timed out after ${timeout} ms (${this.uri})`));
          }
          reject(driverErrorFromVirsh(stderr, `virsh ${args.join(' ')} failed: ${e.message}`));
        },
      );
    });
  }
}
