/**
 * The operator's agent connection manager: one {@link AgentLink} per Host,
 * created by the Host reconciler's `ensure()` and read by every reconciler.
 * See {@link AgentConnections} for the contract.
 */
import type { Logger } from 'pino';
import { AgentClient, type AgentClientOptions, type AgentClientTls } from '../../agent/client/index.js';
import { AgentLink, type LinkClient, type LinkDeps } from './link.js';
import type { AgentApi, AgentConnections, HostLink, HostTarget, LinkChange } from './types.js';

/** Options of {@link AgentConnectionManager}. */
export interface AgentConnectionManagerOptions {
  /**
   * The operator's client TLS material for agents in a namespace (the
   * Manager's CA and a client certificate it signed); undefined while the
   * namespace has no CA. Called on every heartbeat, so it must be cheap
   * (cached); new material reconnects the link.
   */
  tlsFor: (namespace: string) => Promise<AgentClientTls | undefined>;
  log: Logger;
  /** Clock for `lastHeartbeat` and `failingSince` (a seam for tests). */
  now?: () => Date;
  /** Builds the client of a link; an {@link AgentClient} by default (tests wrap or replace it). */
  clientFactory?: (options: AgentClientOptions) => LinkClient;
  /** Per-request inactivity timeout of agent calls (heartbeats and verbs); default 15 s. */
  requestTimeoutMs?: number;
  /** Relist of storage and VMs while connected, behind the event stream; default 30 s. */
  relistIntervalMs?: number;
}

/**
 * Keeps one link per Host: heartbeats every `heartbeatIntervalMs`
 * (`Connecting` → `Connected` / `Unreachable` / `CertificateRejected` /
 * `NoCredentials`), one event stream per connected agent, and the host's
 * capabilities, stats, storage domains and domains, kept current by events
 * plus a periodic relist. Listeners hear about changes only: a relist that
 * finds nothing new is silent; each answered heartbeat is a `host` change
 * (it carries new stats and `lastHeartbeat`).
 */
export class AgentConnectionManager implements AgentConnections {
  private readonly links = new Map<string, AgentLink>();
  private readonly listeners = new Set<(change: LinkChange) => void>();
  /** Links being closed by forget(); close() waits for them too. */
  private readonly closing = new Set<Promise<void>>();
  private closed = false;
  private readonly log: Logger;
  private readonly deps: LinkDeps;

  constructor(options: AgentConnectionManagerOptions) {
    this.log = options.log;
    this.deps = {
      tlsFor: options.tlsFor,
      log: options.log,
      now: options.now ?? (() => new Date()),
      createClient: options.clientFactory ?? ((o) => new AgentClient(o)),
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
      relistIntervalMs: options.relistIntervalMs ?? 30_000,
      emit: (change) => this.emit(change),
    };
  }

  /** {@inheritDoc AgentConnections.ensure} */
  ensure(target: HostTarget): void {
    if (this.closed) return;
    const key = `${target.namespace}/${target.name}`;
    const existing = this.links.get(key);
    if (existing !== undefined) {
      existing.update(target);
      return;
    }
    const link = new AgentLink(target, this.deps);
    this.links.set(key, link);
    link.start();
  }

  /** {@inheritDoc AgentConnections.forget} */
  forget(key: string): void {
    const link = this.links.get(key);
    if (link === undefined) return;
    this.links.delete(key);
    const closing = link.close().finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }

  /** {@inheritDoc AgentConnections.link} */
  link(key: string): HostLink | undefined {
    return this.links.get(key)?.snapshot();
  }

  /** {@inheritDoc AgentConnections.client} */
  client(key: string): AgentApi | undefined {
    return this.links.get(key)?.api();
  }

  /**
   * {@inheritDoc AgentConnections.refresh}
   * Resolves after one attempt; a failed relist is logged, not thrown (the
   * verb that preceded it succeeded), and retried after the next answered heartbeat.
   */
  refresh(key: string, options: { capabilities?: boolean } = {}): Promise<void> {
    return this.links.get(key)?.refresh(options) ?? Promise.resolve();
  }

  /** {@inheritDoc AgentConnections.onChange} */
  onChange(listener: (change: LinkChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** {@inheritDoc AgentConnections.close} */
  async close(): Promise<void> {
    this.closed = true;
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all([...links.map((l) => l.close()), ...this.closing]);
  }

  private emit(change: LinkChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (error) {
        // One listener's bug must not stop the link or the other listeners.
        this.log.error({ err: error, change }, 'agent link change listener failed');
      }
    }
  }
}
