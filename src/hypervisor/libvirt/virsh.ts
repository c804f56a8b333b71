/**
 * Runs `virsh -c <uri> <command...>` with an argv array (never a shell) and
 * turns failures into {@link DriverError}s.
 *
 * @packageDocumentation
 */
import { execFile } from 'node:child_process';
import { DriverError } from '../driver.js';
import { driverErrorFromVirsh } from './errors.js';

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
  /**
   * Batches only: when virsh ran but one of its commands failed, return what
   * it printed instead of failing (a call that printed nothing still fails,
   * so an unreachable libvirt is never mistaken for an empty host).
   */
  allowFailure?: boolean;
}

/** Runs virsh commands against one libvirt URI. */
export class Virsh {
  /** The connection URI passed as `-c`. */
  readonly uri: string;
  /** The virsh program (default `virsh` from PATH). */
  readonly binary: string;

  /** @throws DriverError `InvalidSpec` for a malformed URI. */
  constructor(uri: string, binary = 'virsh') {
    if (!URI_PATTERN.test(uri)) throw new DriverError('InvalidSpec', `not a libvirt URI: ${JSON.stringify(uri)}`);
    this.uri = uri;
    this.binary = binary;
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
   * Runs one command and returns its stdout.
   *
   * @throws DriverError classified from virsh's stderr; `Unavailable` when
   *   virsh cannot be started or times out.
   */
  run(args: readonly string[], opts: VirshCallOptions = {}): Promise<string> {
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
          if (opts.allowFailure && typeof e.code === 'number' && stdout.trim() !== '') return resolve(stdout);
          reject(driverErrorFromVirsh(stderr, `virsh ${args.join(' ')} failed: ${e.message}`));
        },
      );
    });
  }
}
