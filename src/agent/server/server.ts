/**
 * The host agent's HTTPS server. Mutual TLS only: the TLS layer itself
 * refuses a client without a certificate signed by the Manager's CA
 * (requestCert + rejectUnauthorized), so an expired or foreign certificate
 * fails the handshake and no handler ever runs for it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import {
  AGENT_BODY_LIMIT_BYTES,
  AGENT_ROUTES,
  AgentApiError,
  apiErrorFromZod,
  type AgentEventInput,
  type HostStatsResponse,
} from '../../api/agent/index.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import type { StorageManager } from '../storage/types.js';
import { HeartbeatReportingStorage, StorageHeartbeats } from '../heartbeat/index.js';
import { LeaseInspector, vmLeaseProvider, withLeaseState, type LeaseConfig } from '../leases/index.js';
import { VmService } from '../vms/service.js';
import { ConsoleEndpoint, type ConsoleSource } from '../console/index.js';
import { toApiError } from './errors.js';
import { EventHub } from './event-hub.js';
import { createHandlers, type HandlerServices, type JsonRouteId } from './handlers.js';
import { HostStatsSampler, type ProcReader } from './host-stats.js';
import { checkContentType, parseJson, readBody, sendError, sendJson } from './http.js';
import { MethodNotAllowedError, Router } from './router.js';
import { serveEventStream } from './sse.js';
import { StorageVerbs } from './storage-verbs.js';
import { StorageHealthWatch } from './storage-watch.js';
import { CertificateRotation, type CertificateFiles } from '../pki/rotation.js';
import { refuseUpgrade } from '../../ws/index.js';

/** TLS material: PEM text or buffers. `ca` is the Manager's CA, the only issuer clients may come from. */
export interface AgentTls {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
}

/** id-kp-serverAuth (RFC 5280): the extended key usage of host certificates. */
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

/** Mutual TLS only: every client presents a certificate of the CA. */
const TLS_SERVER_OPTIONS = { requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' } as const;

/** Options of {@link createAgentServer}. */
export interface AgentServerOptions {
  tls: AgentTls;
  /**
   * Files the served certificate and key were read from: a renewal
   * (`PUT /v1/host/certificate`) replaces them, so it outlives a restart.
   * Without them a renewal lives in memory only.
   */
  certificateFiles?: CertificateFiles;
  host: string;
  /** 0 picks a free port (see {@link AgentServer.port}). */
  port: number;
  driver: HypervisorDriver;
  storage: StorageManager;
  logger: Logger;
  /** Agent version, reported in capabilities and the AgentStarted event. */
  version: string;
  /** Interval of SSE heartbeat comments; default 15 s. */
  heartbeatMs?: number;
  /** Request body cap; default 1 MiB. */
  bodyLimitBytes?: number;
  /** Events kept for Last-Event-ID replay; default 1000. */
  eventRingSize?: number;
  /** Storage health poll interval; default 10 s, 0 = only after connect/disconnect. */
  storagePollMs?: number;
  /** State poll interval during a graceful stop; default 500 ms. */
  vmPollMs?: number;
  /** How long cancelling a migration waits for it to end; default 5 s. */
  migrationCancelWaitMs?: number;
  /** Reader of /proc files (tests replace it). */
  procReader?: ProcReader;
  /** Fixed boot id for event ids (tests); random by default. */
  bootId?: string;
  /**
   * This host's lease mechanism (`GET /v1/host/capabilities` reports it);
   * under lockd with a lockspace directory every defined domain also gets a
   * whole-VM lease, and VM answers say whether the VM holds a lease now.
   * Default: no lock manager.
   */
  leases?: LeaseConfig;
  /** Where the kernel lists file locks (tests); default /proc/locks. */
  procLocksPath?: string;
  /**
   * Storage heartbeat: this host's name (the heartbeat file's name) and the
   * write interval. Absent: no heartbeat is written (the heartbeats endpoint
   * still reads the other hosts').
   */
  storageHeartbeat?: { host: string; intervalMs: number; ioTimeoutMs?: number };
  /** Delay before retrying a failed hypervisor event stream; default 1 s. */
  eventRetryMs?: number;
  /** How long close() lets requests in flight finish; default 5 s. */
  closeGraceMs?: number;
  /** Serial consoles (`GET /v1/vms/{uid}/console`, WebSocket); absent: that verb answers 501. */
  consoles?: ConsoleSource;
  /** The hosted-engine HA role (`drover agent --hosted-engine`); absent: its verbs answer 404 HostedEngineNotConfigured. */
  hostedEngine?: HandlerServices['hostedEngine'];
}

/** A running (or ready to run) agent server. */
export interface AgentServer {
  /** Listens, then reports itself (AgentStarted), rediscovers domains (orphans) and starts the event pump. */
  listen(): Promise<void>;
  /** Ends event streams and background loops and stops listening. */
  close(): Promise<void>;
  /** The port listened on. */
  port(): number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** Creates the agent's HTTPS server (not yet listening). */
export function createAgentServer(options: AgentServerOptions): AgentServer {
  const { driver, version } = options;
  const logger = options.logger;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const bodyLimit = options.bodyLimitBytes ?? AGENT_BODY_LIMIT_BYTES;

  const hubOptions: ConstructorParameters<typeof EventHub>[0] = { capacity: options.eventRingSize ?? 1000 };
  if (options.bootId !== undefined) hubOptions.bootId = options.bootId;
  const hub = new EventHub(hubOptions);
  const publish = (event: AgentEventInput): void => void hub.publish(event);

  const leases: LeaseConfig = options.leases ?? { manager: 'none', autoDiskLeases: false };
  const leaseInspector = new LeaseInspector(leases, options.procLocksPath === undefined ? {} : { procLocksPath: options.procLocksPath });
  // The heartbeat loop reports into storage status: everything below sees storage through it.
  let onHeartbeatChange = (): void => {};
  const heartbeats = new StorageHeartbeats({
    storage: options.storage,
    host: options.storageHeartbeat?.host ?? 'unnamed',
    bootId: hub.bootId,
    intervalMs: options.storageHeartbeat?.intervalMs ?? 5000,
    ...(options.storageHeartbeat?.ioTimeoutMs !== undefined ? { ioTimeoutMs: options.storageHeartbeat.ioTimeoutMs } : {}),
    logger,
    onChange: () => onHeartbeatChange(),
  });
  const storage: StorageManager = new HeartbeatReportingStorage(options.storage, heartbeats);

  const vms = new VmService({
    driver,
    storage,
    logger,
    publish,
    pollMs: options.vmPollMs ?? 500,
    migrationCancelWaitMs: options.migrationCancelWaitMs ?? 5000,
    vmLease: vmLeaseProvider(leases, logger),
  });
  const watch = new StorageHealthWatch(storage, publish, logger, options.storagePollMs ?? 10_000);
  onHeartbeatChange = () => void watch.check();
  const storageVerbs = new StorageVerbs(storage, driver, () => void watch.check());
  const sampler = new HostStatsSampler(options.procReader);
  const rotation = new CertificateRotation({
    cert: options.tls.cert.toString(),
    key: options.tls.key.toString(),
    ca: options.tls.ca.toString(),
    ...(options.certificateFiles ? { files: options.certificateFiles } : {}),
    // Only new handshakes see it: open connections (the operator's keep-alive sockets) keep the old one until they close.
    apply: (tls) => server.setSecureContext({ ...TLS_SERVER_OPTIONS, cert: tls.cert, key: tls.key, ca: options.tls.ca }),
    log: logger.child({ component: 'certificate' }),
  });
  const handlers = createHandlers({
    vms,
    storage: storageVerbs,
    certificates: { csr: () => rotation.csr(), install: (cert) => rotation.install(cert) },
    capabilities: async () => ({
      ...(await driver.capabilities()),
      certificate: rotation.info(),
      agentVersion: version,
      leases: { manager: leases.manager, ...(leases.lockspace !== undefined ? { lockspace: leases.lockspace } : {}) },
    }),
    storageHeartbeats: async (name) => ({ items: await heartbeats.heartbeats(name) }),
    leaseState: (list) => withLeaseState(leaseInspector, list),
    stats: async (): Promise<HostStatsResponse> => {
      const [sample, domains] = await Promise.all([sampler.sample(), driver.list()]);
      const runningVMs = domains.filter((d) => d.state === 'running' || d.state === 'blocked').length;
      return { ...sample, runningVMs, time: new Date().toISOString() };
    },
    ...(options.hostedEngine !== undefined ? { hostedEngine: options.hostedEngine } : {}),
  });
  const router = new Router(AGENT_ROUTES);
  const streams = new Set<() => void>();

  function clientName(req: IncomingMessage): string | undefined {
    const cn = (req.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN;
    return typeof cn === 'string' ? cn : undefined;
  }

  /**
   * Why this client may not use the API, or undefined. A certificate for
   * server authentication is a host's (the agents' own), and agents never
   * call each other: only the operator, a client-only certificate of the
   * same CA, drives a host, so a compromised host cannot drive the others.
   */
  function refusedClient(req: IncomingMessage): string | undefined {
    const usages = (req.socket as TLSSocket).getPeerCertificate?.()?.ext_key_usage ?? [];
    return usages.includes(SERVER_AUTH_OID) ? `client certificate ${clientName(req) ?? ''} is a host's (serverAuth): only the operator may call host agents`.replace('  ', ' ') : undefined;
  }

  function logRequest(req: IncomingMessage, pathname: string, status: number, started: number): void {
    logger.info(
      { method: req.method, path: pathname.slice(0, 256), status, ms: Math.round(performance.now() - started), client: clientName(req) },
      'request',
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    // The path exactly as sent: no URL parser, which would resolve dot segments.
    const pathname = (req.url ?? '/').split(/[?#]/)[0] ?? '/';
    let streaming = false;
    res.on('close', () => {
      if (!streaming) logRequest(req, pathname, res.statusCode, started);
    });
    try {
      const refusal = refusedClient(req);
      if (refusal !== undefined) throw new AgentApiError(403, 'ClientNotAllowed', refusal);
      const match = router.match(req.method ?? '', pathname);
      const params = match.route.params.safeParse(match.params, { reportInput: true });
      if (!params.success) throw apiErrorFromZod(params.error, 400);

      if (match.route.stream) {
        streaming = true;
        const end = serveEventStream(req, res, hub, {
          heartbeatMs,
          onClose: () => {
            streams.delete(end);
            logRequest(req, pathname, 200, started);
          },
        });
        streams.add(end);
        return;
      }

      let body: unknown;
      if (match.route.body !== undefined) {
        checkContentType(req);
        const json = parseJson(await readBody(req, bodyLimit));
        const parsed = match.route.body.safeParse(json, { reportInput: true });
        if (!parsed.success) throw apiErrorFromZod(parsed.error, 400);
        body = parsed.data;
      } else {
        req.resume();
      }

      const handler = handlers[match.id as JsonRouteId] as (input: { params: unknown; body: unknown }) => Promise<unknown>;
      const result = await handler({ params: params.data, body });
      const answer = match.route.response.safeParse(result);
      if (!answer.success) {
        logger.error({ route: match.id, issues: answer.error.issues.slice(0, 5) }, 'answer does not match its schema');
        throw new AgentApiError(500, 'Internal', 'internal error (see the agent log)');
      }
      sendJson(res, match.route.status, answer.data);
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.status >= 500) logger.error({ err: error, method: req.method, path: pathname.slice(0, 256) }, 'request failed');
      const headers: Record<string, string> = {};
      if (error instanceof MethodNotAllowedError) headers['allow'] = error.allowed.join(', ');
      // The rest of an oversized body is not read: close the connection instead of draining it.
      if (apiError.status === 413) headers['connection'] = 'close';
      if (res.headersSent) res.destroy();
      else sendError(res, apiError, headers);
    }
  }

  const server: Server = createServer(
    { ...TLS_SERVER_OPTIONS, cert: options.tls.cert, key: options.tls.key, ca: options.tls.ca },
    (req, res) => void handle(req, res),
  );
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  // Longer than the client's idle socket timeout, so the client always closes first and never reuses a dying socket.
  server.keepAliveTimeout = 65_000;
  const consoles = new ConsoleEndpoint(options.consoles, logger.child({ component: 'console' }));
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    const refusal = refusedClient(req);
    if (refusal !== undefined) {
      logger.warn({ client: clientName(req), path: (req.url ?? '').slice(0, 256) }, 'console refused: a host certificate');
      refuseUpgrade(socket, 403, 'ClientNotAllowed', refusal);
      return;
    }
    consoles.handleUpgrade(req, socket, head, clientName(req));
  });
  server.on('tlsClientError', (err, socket) => {
    // A certificate that failed verification is refused by Node after the handshake (the socket
    // is destroyed, no request is read); its verdict is on the socket, the error only says "hang up".
    const verdict = (socket as TLSSocket & { authorizationError?: Error | string | null }).authorizationError;
    logger.warn({ remote: socket.remoteAddress, reason: verdict != null ? String(verdict) : err.message.trim() }, 'TLS handshake refused');
  });

  const pumpAbort = new AbortController();
  let pump: Promise<void> | undefined;

  async function pumpDriverEvents(): Promise<void> {
    const signal = pumpAbort.signal;
    while (!signal.aborted) {
      try {
        for await (const e of driver.events(signal)) {
          const time = typeof e.time === 'string' && e.time !== '' && e.time.length <= 64 ? e.time : undefined;
          const event: AgentEventInput = { type: 'VmLifecycle', uid: e.uuid.toLowerCase(), name: e.name, event: e.event, detail: e.detail };
          if (time !== undefined) event.time = time;
          publish(event);
        }
      } catch (error) {
        if (signal.aborted) break;
        logger.warn({ err: error }, 'hypervisor event stream failed, reconnecting');
      }
      await sleep(options.eventRetryMs ?? 1000, signal);
    }
  }

  return {
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      publish({ type: 'AgentStarted', version, bootId: hub.bootId });
      logger.info({ host: options.host, port: this.port(), version, bootId: hub.bootId }, 'agent started');
      // Subscribe to the hypervisor before listing, so no change falls between the list and the stream.
      pump = pumpDriverEvents();
      try {
        await vms.rediscover();
      } catch (error) {
        // The hypervisor may be down at start; the agent still answers (with 503s) and GET /v1/vms lists again.
        logger.warn({ err: error }, 'could not list domains at start');
      }
      watch.start();
      if (options.storageHeartbeat !== undefined) heartbeats.start();
    },

    async close() {
      pumpAbort.abort();
      watch.stop();
      heartbeats.stop();
      for (const end of [...streams]) end();
      consoles.closeAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? 5000);
      await closed;
      clearTimeout(force);
      await pump;
    },

    port() {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('agent server is not listening');
      return (address as AddressInfo).port;
    },
  };
}
