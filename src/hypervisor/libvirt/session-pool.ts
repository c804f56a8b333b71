/**
 * A few {@link VirshSession}s on one connection, so that one slow request
 * (a domain start under TCG takes a second or more inside libvirtd) does
 * not hold up the others, while the number of virsh processes stays
 * bounded. libvirtd runs calls of different clients in parallel on its
 * worker threads; one virsh sends one call at a time.
 *
 * The first session is kept for the life of the pool; the others end after
 * a while without requests and are started again when load returns.
 *
 * @packageDocumentation
 */
import { DriverError } from '../driver.js';
import { VirshSession, type SessionTarget } from './session.js';
import type { CommandOutput } from './session-protocol.js';

/** Options of {@link SessionPool}. */
export interface SessionPoolOptions {
  /** Most sessions (virsh processes) at once; at least 1. */
  size: number;
  /** Environment of the children. */
  env: NodeJS.ProcessEnv;
  /** How long an extra session may stay idle before its child ends (default 30 s). */
  idleCloseMs?: number;
}

/** Sessions on one connection, picked by load. */
export class SessionPool {
  private readonly sessions: VirshSession[] = [];
  private closed = false;

  constructor(
    private readonly target: SessionTarget,
    private readonly options: SessionPoolOptions,
  ) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new DriverError('InvalidSpec', `session pool size must be a positive integer, got ${options.size}`);
  }

  /** The sessions started so far (tests and diagnostics). */
  get members(): readonly VirshSession[] {
    return this.sessions;
  }

  /** Runs one request on the least busy session (see {@link VirshSession.run}). */
  run(commands: readonly (readonly string[])[], timeoutMs: number): Promise<CommandOutput[]> {
    if (this.closed) return Promise.reject(new DriverError('Unavailable', 'virsh session pool closed'));
    return this.pick().run(commands, timeoutMs);
  }

  /** Ends every session. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.sessions.map((s) => s.close()));
  }

  /** An idle session (one with a live child first), a new one while below size, else the least loaded. */
  private pick(): VirshSession {
    const idle = this.sessions.filter((s) => s.load === 0);
    const warm = idle.find((s) => s.pid !== undefined);
    if (warm) return warm;
    if (idle[0]) return idle[0];
    if (this.sessions.length < this.options.size) {
      const first = this.sessions.length === 0;
      const session = new VirshSession(this.target, { env: this.options.env, idleCloseMs: first ? 0 : (this.options.idleCloseMs ?? 30_000) });
      this.sessions.push(session);
      return session;
    }
    return this.sessions.reduce((a, b) => (b.load < a.load ? b : a));
  }
}
