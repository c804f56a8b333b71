/**
 * Small process helpers for the test bed and the guest-image builder.
 *
 * Every command is spawned with an argv array (never through a shell), so no
 * input is ever interpreted as shell syntax.
 */
import { spawn } from 'node:child_process';

/** Result of a finished command. */
export interface ExecResult {
  /** Exit code, or `null` when the process was killed by a signal. */
  code: number | null;
  /** Signal that ended the process, if any. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link run} and {@link runChecked}. */
export interface ExecOptions {
  /** Working directory of the child. */
  cwd?: string;
  /** Extra environment variables (merged over `process.env`). */
  env?: Record<string, string>;
  /** Data written to the child's stdin (stdin is closed either way). */
  input?: string | Buffer;
  /** Kill the child (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
}

/** Error thrown by {@link runChecked} when a command fails. */
export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    const how = result.signal ? `signal ${result.signal}` : `exit code ${String(result.code)}`;
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(-2000);
    super(`command failed (${how}): ${argv.join(' ')}${detail ? `\n${detail}` : ''}`);
    this.name = 'ExecError';
  }
}

/**
 * Runs `argv[0]` with the remaining arguments and collects its output.
 * Never rejects for a non-zero exit: the caller inspects {@link ExecResult.code}.
 * Rejects only when the program cannot be started at all (e.g. ENOENT).
 */
export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error('run: empty argv'));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A child that exits without reading stdin makes the write fail with EPIPE;
    // that is not an error of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Like {@link run}, but rejects with an {@link ExecError} unless the exit code is 0. */
export async function runChecked(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const result = await run(argv, opts);
  if (result.code !== 0) throw new ExecError(argv, result);
  return result;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
