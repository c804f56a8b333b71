/**
 * The operator's client for the host agent API: HTTPS with the operator's
 * client certificate, pinned to the Manager's CA, over a keep-alive
 * connection pool. Every request is validated before it is sent and every
 * answer after it arrives, with the same schemas the agent uses; every
 * failure is an {@link AgentApiError} with the HTTP status and the agent's
 * reason (status 0 when no answer came).
 */
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import {
  AGENT_ROUTES,
  AgentApiError,
  agentEvent,
  apiErrorFromZod,
  buildPath,
  errorBody,
  type AgentEvent,
  type AgentRouteId,
  type CreateVolumeRequest,
  type FormatStorageRequest,
  type MigrateVmRequest,
  type StopVmRequest,
  type StorageConnectionBody,
  type VmSpecInput,
} from '../../api/agent/index.js';
import type { HostedEngineMaintenanceRequest } from '../../api/agent/index.js';
import { SseParser, type SseMessage } from './sse-parser.js';

type Routes = typeof AGENT_ROUTES;
type JsonRouteId = Exclude<AgentRouteId, 'events'>;
type Answer<K extends JsonRouteId> = z.output<Routes[K]['response']>;

/** Largest answer the client reads. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** Client TLS material: the operator's certificate and key, and the CA agents' certificates come from. */
export interface AgentClientTls {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
}

/** Options of an {@link AgentClient}. */
export interface AgentClientOptions {
  host: string;
  port: number;
  tls: AgentClientTls;
  /** Name the agent's certificate must carry, when it differs from `host`. */
  servername?: string;
  /**
   * The Host this agent must be: its certificate's CN (set at enrollment to
   * the Host's name) must equal it, so a Host pointing at another host's
   * agent is refused rather than taken for it.
   */
  expectedName?: string;
  /**
   * The issue time (RFC 3339) of the newest certificate known for this agent,
   * read at every TLS handshake: a certificate issued before it was replaced
   * by a renewal and is refused (`CERT_RETIRED`), so an old key cannot stand
   * in for the host.
   */
  issuedNotBefore?: () => string | undefined;
  /** Per-request inactivity timeout; default 30 s. */
  timeoutMs?: number;
  /** Connections kept per agent; default 8. */
  maxSockets?: number;
}

/** Options of {@link AgentClient.events}. */
export interface AgentEventStreamOptions {
  /** Ends the stream. */
  signal?: AbortSignal;
  /** Resume after this event id (`Last-Event-ID`). */
  lastEventId?: string;
  /** Reconnect when nothing (not even a heartbeat) arrived for this long; default 45 s (3 heartbeats). */
  idleTimeoutMs?: number;
  /** First reconnect delay, doubled per failure up to `maxReconnectDelayMs`; default 500 ms. */
  reconnectDelayMs?: number;
  /** Default 15 s. */
  maxReconnectDelayMs?: number;
  /** Called for every failed or ended connection before reconnecting. */
  onDisconnect?: (error: unknown) => void;
  /** Called for messages that are not valid events (e.g. a kind from a newer agent); they are skipped. */
  onInvalid?: (message: SseMessage) => void;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER_BYTES) {
        res.destroy(new Error(`answer exceeds ${MAX_ANSWER_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('answer aborted')));
  });
}

/** The error for a non-success answer, from the agent's error body when there is one. */
function answerError(status: number, text: string): AgentApiError {
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) {
      const e = parsed.data.error;
      return new AgentApiError(status, e.reason, e.message, e.field);
    }
  } catch {
    /* not JSON: fall through */
  }
  return new AgentApiError(status, 'HttpError', `agent answered HTTP ${status}`);
}

/**
 * No answer came (status 0, reason `Unreachable`): connecting, the TLS
 * handshake or the exchange failed. `code` is Node's error code when there
 * is one (`ECONNREFUSED`, `ETIMEDOUT`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`, ...), so a caller can tell a refused
 * certificate from a host that is down without parsing the message.
 */
export class AgentTransportError extends AgentApiError {
  constructor(
    message: string,
    /** Node's error code of the underlying failure, when it had one. */
    readonly code?: string,
  ) {
    super(0, 'Unreachable', message);
  }
}

/** Node's `code` of a transport error, when it has a string one. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * An error when `cert` was issued before `newest` (RFC 3339), the issue time
 * of the newest certificate known for the agent; undefined otherwise.
 */
export function retiredCertificate(cert: Pick<PeerCertificate, 'valid_from' | 'serialNumber'>, newest: string | undefined): Error | undefined {
  if (newest === undefined) return undefined;
  const issued = Date.parse(cert.valid_from);
  const pin = Date.parse(newest);
  if (!Number.isFinite(pin) || (Number.isFinite(issued) && issued >= pin)) return undefined;
  return Object.assign(
    new Error(`the agent's certificate (serial ${cert.serialNumber?.toLowerCase() ?? '?'}, issued ${cert.valid_from}) was replaced by one issued ${newest}: it is retired`),
    { code: 'CERT_RETIRED' },
  );
}

/**
 * The agent's identity beyond the CA chain, for a TLS handshake's
 * `checkServerIdentity`: Node's host-name check, then the Host the agent must
 * be (its CN, set at enrollment), then the pin on its newest certificate.
 * Shared by every client of an agent (the API client and the console proxy).
 */
export function checkAgentIdentity(hostname: string, cert: PeerCertificate, expectedName: string | undefined, newest: string | undefined): Error | undefined {
  const standard = checkServerIdentity(hostname, cert);
  if (standard) return standard;
  const cn = Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN;
  if (expectedName !== undefined && cn !== expectedName) {
    return Object.assign(new Error(`the agent's certificate is for host "${cn ?? '?'}", not "${expectedName}"`), { code: 'HOST_IDENTITY_MISMATCH' });
  }
  return retiredCertificate(cert, newest);
}

/** Typed client of one host agent. */
export class AgentClient {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(private readonly options: AgentClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const expected = options.expectedName;
    const pinned = options.issuedNotBefore;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? 8,
      // Idle sockets close before the agent's keep-alive timeout (65 s), so a request never lands on a closing socket.
      timeout: 30_000,
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.ca,
      // On the Agent, not per request: Node's https.Agent gives every request that
      // brings its own checkServerIdentity a pool of its own (so a socket checked
      // by one function is never reused under another), which made every agent
      // call a new TCP connection and TLS handshake (docs/profiles.md).
      ...(expected !== undefined || pinned !== undefined
        ? {
            checkServerIdentity: (hostname: string, cert: PeerCertificate) => checkAgentIdentity(hostname, cert, expected, pinned?.()),
          }
        : {}),
    });
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  /** Options of one request; TLS and the identity check come from the Agent, whose pooled sockets passed them. */
  private requestOptions(method: string, path: string, headers: Record<string, string | number>): RequestOptions {
    const o: RequestOptions = {
      host: this.options.host,
      port: this.options.port,
      method,
      path,
      agent: this.agent,
      headers,
      cert: this.options.tls.cert,
      key: this.options.tls.key,
      ca: this.options.tls.ca,
    };
    if (this.options.servername !== undefined) o.servername = this.options.servername;
    return o;
  }

  /** Sends one request of route `id` and validates the answer. */
  private async call<K extends JsonRouteId>(id: K, params: Record<string, string>, body?: unknown, timeoutMs = this.timeoutMs): Promise<Answer<K>> {
    const route = AGENT_ROUTES[id];
    let path: string;
    try {
      path = buildPath(route.path, params);
    } catch (error) {
      throw new AgentApiError(0, 'InvalidField', String(error));
    }
    const checkedParams = route.params.safeParse(params, { reportInput: true });
    if (!checkedParams.success) throw apiErrorFromZod(checkedParams.error, 0);
    let payload: string | undefined;
    if (route.body !== undefined) {
      const checked = route.body.safeParse(body ?? {}, { reportInput: true });
      if (!checked.success) throw apiErrorFromZod(checked.error, 0);
      // The request as written (defaults are the agent's to apply).
      payload = JSON.stringify(body ?? {});
    }
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }

    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(this.requestOptions(route.method, path, headers), (res) => {
        readAll(res).then((t) => resolve({ status: res.statusCode ?? 0, text: t }), reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    }).catch((error: unknown) => {
      throw new AgentTransportError(`${route.method} ${path}: ${error instanceof Error ? error.message : String(error)}`, errorCode(error));
    });

    if (status !== route.status) throw answerError(status, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AgentApiError(status, 'InvalidAnswer', `${route.method} ${path}: answer is not JSON`);
    }
    const answer = route.response.safeParse(json);
    if (!answer.success) {
      throw new AgentApiError(status, 'InvalidAnswer', `${route.method} ${path}: answer does not match the API: ${answer.error.issues[0]?.message ?? ''}`);
    }
    return answer.data as Answer<K>;
  }

  /** `GET /v1/host/capabilities` */
  capabilities() {
    return this.call('hostCapabilities', {});
  }
  /** `GET /v1/host/stats` */
  stats() {
    return this.call('hostStats', {});
  }
  /** `POST /v1/host/certificate/csr`: a request for a new key the agent keeps. */
  certificateRequest() {
    return this.call('hostCertificateRequest', {}, {});
  }
  /** `PUT /v1/host/certificate`: installs the certificate signed for the pending request. */
  installCertificate(cert: string) {
    return this.call('hostCertificateInstall', {}, { cert });
  }

  /** `GET /v1/storage/domains` */
  listStorageDomains() {
    return this.call('storageList', {});
  }
  /** `GET /v1/storage/domains/{name}` */
  getStorageDomain(name: string) {
    return this.call('storageGet', { name });
  }
  /** `PUT /v1/storage/domains/{name}` (idempotent). */
  connectStorageDomain(name: string, connection: StorageConnectionBody) {
    return this.call('storageConnect', { name }, { connection });
  }
  /** `DELETE /v1/storage/domains/{name}` (idempotent). */
  disconnectStorageDomain(name: string) {
    return this.call('storageDisconnect', { name });
  }
  /** `POST /v1/storage/domains/{name}/format` (idempotent for the same uuid and role). */
  formatStorageDomain(name: string, request: FormatStorageRequest) {
    return this.call('storageFormat', { name }, request);
  }

  /**
   * `GET /v1/storage/domains/{name}/heartbeats`: every host's storage
   * heartbeat on the domain, with ages measured by this agent (time since it
   * first saw the current sequence number; immune to clock skew, and never
   * overstated).
   */
  storageHeartbeats(domain: string) {
    return this.call('storageHeartbeats', { name: domain });
  }

  /** `GET /v1/storage/domains/{name}/volumes` */
  listVolumes(domain: string) {
    return this.call('volumeList', { name: domain });
  }
  /** `GET /v1/storage/domains/{name}/volumes/{volume}` */
  getVolume(domain: string, volume: string) {
    return this.call('volumeGet', { name: domain, volume });
  }
  /** `PUT /v1/storage/domains/{name}/volumes/{volume}` (idempotent; another size is a 409 SizeMismatch). */
  createVolume(domain: string, volume: string, request: CreateVolumeRequest) {
    return this.call('volumeCreate', { name: domain, volume }, request);
  }
  /** `POST /v1/storage/domains/{name}/volumes/{volume}/resize` (grow only). */
  resizeVolume(domain: string, volume: string, sizeBytes: number) {
    return this.call('volumeResize', { name: domain, volume }, { sizeBytes });
  }
  /** `DELETE /v1/storage/domains/{name}/volumes/{volume}` (idempotent). */
  deleteVolume(domain: string, volume: string) {
    return this.call('volumeDelete', { name: domain, volume });
  }

  /** `GET /v1/vms`: Drover's domains and orphans (`owned: false`). */
  listVms() {
    return this.call('vmList', {});
  }
  /** `GET /v1/vms/{uid}` */
  getVm(uid: string) {
    return this.call('vmGet', { uid });
  }
  /** `PUT /v1/vms/{uid}`: defines (only when the spec changed). */
  defineVm(uid: string, spec: VmSpecInput) {
    return this.call('vmDefine', { uid }, spec);
  }
  /** `DELETE /v1/vms/{uid}` (idempotent; a running VM is a 409 VmRunning). */
  undefineVm(uid: string) {
    return this.call('vmUndefine', { uid });
  }
  /** `POST /v1/vms/{uid}/start` */
  startVm(uid: string) {
    return this.call('vmStart', { uid }, {});
  }
  /** `POST /v1/vms/{uid}/stop`: graceful, powered off after `timeoutSeconds`. Waits for the outcome. */
  stopVm(uid: string, request: StopVmRequest = {}) {
    const graceMs = (request.timeoutSeconds ?? 60) * 1000;
    return this.call('vmStop', { uid }, request, graceMs + this.timeoutMs);
  }
  /** `POST /v1/vms/{uid}/destroy` */
  destroyVm(uid: string) {
    return this.call('vmDestroy', { uid }, {});
  }
  /** `POST /v1/vms/{uid}/pause` */
  pauseVm(uid: string) {
    return this.call('vmPause', { uid }, {});
  }
  /** `POST /v1/vms/{uid}/resume` */
  resumeVm(uid: string) {
    return this.call('vmResume', { uid }, {});
  }
  /** `POST /v1/vms/{uid}/migrate`: starts a background migration (202). */
  migrateVm(uid: string, request: MigrateVmRequest) {
    return this.call('vmMigrate', { uid }, request);
  }
  /** `GET /v1/vms/{uid}/migration` */
  getMigration(uid: string) {
    return this.call('vmMigrationGet', { uid });
  }
  /** `DELETE /v1/vms/{uid}/migration` */
  cancelMigration(uid: string) {
    return this.call('vmMigrationCancel', { uid });
  }

  /** `GET /v1/hosted-engine`: the shared hosted-engine HA metadata as this node reads it (404 HostedEngineNotConfigured elsewhere). */
  hostedEngineStatus() {
    return this.call('hostedEngineStatus', {});
  }
  /** `PUT /v1/hosted-engine/maintenance`: sets global and/or this node's local maintenance. */
  setHostedEngineMaintenance(change: HostedEngineMaintenanceRequest) {
    return this.call('hostedEngineMaintenance', {}, change);
  }

  /**
   * `GET /v1/events` as an async iterator of validated events. Reconnects
   * (with backoff) when the stream fails, ends or goes quiet for longer than
   * `idleTimeoutMs`, resuming from the last event id seen; an `EventsLost`
   * event means events were missed and the caller must relist. Ends when
   * `signal` aborts or the caller stops iterating.
   */
  async *events(options: AgentEventStreamOptions = {}): AsyncGenerator<AgentEvent, void, undefined> {
    const { signal } = options;
    const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
    const firstDelay = options.reconnectDelayMs ?? 500;
    const maxDelay = options.maxReconnectDelayMs ?? 15_000;
    let lastEventId = options.lastEventId;
    let delay = firstDelay;

    while (!signal?.aborted) {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const req = httpsRequest(this.requestOptions('GET', AGENT_ROUTES.events.path, headers));
      const abort = () => req.destroy(new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      let idle: NodeJS.Timeout | undefined;
      let idleFailure: Error | undefined;
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          idleFailure = new Error(`no event or heartbeat for ${idleTimeoutMs} ms`);
          req.destroy(idleFailure);
        }, idleTimeoutMs);
      };
      try {
        touch();
        const res = await new Promise<IncomingMessage>((resolve, reject) => {
          req.on('response', resolve);
          req.on('error', reject);
          req.end();
        });
        if (res.statusCode !== 200) throw answerError(res.statusCode ?? 0, await readAll(res));
        const parser = new SseParser();
        let connected = false;
        for await (const chunk of res as AsyncIterable<Buffer>) {
          touch();
          if (!connected) {
            connected = true;
            delay = firstDelay;
          }
          for (const message of parser.push(chunk)) {
            let event: AgentEvent | undefined;
            try {
              const parsed = agentEvent.safeParse(JSON.parse(message.data));
              if (parsed.success) event = parsed.data;
            } catch {
              /* not JSON */
            }
            if (event === undefined) {
              options.onInvalid?.(message);
              continue;
            }
            if (message.id !== undefined) lastEventId = message.id;
            // Time spent in the consumer is not the agent's silence.
            clearTimeout(idle);
            yield event;
            touch();
          }
        }
        options.onDisconnect?.(new Error('event stream ended'));
      } catch (error) {
        if (signal?.aborted) return;
        options.onDisconnect?.(idleFailure ?? error);
      } finally {
        clearTimeout(idle);
        signal?.removeEventListener('abort', abort);
        req.destroy();
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
