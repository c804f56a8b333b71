/**
 * A real enrollment server on 127.0.0.1 over the in-memory Secret store, a
 * real ManagerPki (openssl), a fake Host lookup and a recording event
 * recorder; plus helpers to make tokens and signed requests.
 */
import { request } from 'node:https';
import { pino } from 'pino';
import type { KubeObject } from '../../../src/kube/types.js';
import { bootstrapTokenSecret, generateBootstrapToken, type BootstrapToken } from '../../../src/pki/bootstrap-token.js';
import { requestProof } from '../../../src/pki/enrollment-protocol.js';
import { ManagerPki, type AgentCertificateSigner } from '../../../src/pki/manager-pki.js';
import { EnrollmentServer } from '../../../src/operator/enrollment/server.js';
import type { HostLookup } from '../../../src/operator/enrollment/host-lookup.js';
import type { Logger } from 'pino';
import { FakeSecretStore } from './fake-secret-store.js';

/** A recorded Event. */
export interface RecordedEvent {
  object: KubeObject;
  type: string;
  reason: string;
  message: string;
}

/** Everything a test needs. */
export interface Fixture {
  store: FakeSecretStore;
  pki: ManagerPki;
  hosts: Map<string, KubeObject>;
  events: RecordedEvent[];
  server: EnrollmentServer;
  port: number;
  now: { value: Date };
  /** Creates a token Secret in `namespace`. */
  token(namespace: string, o?: { host?: string; expiration?: Date }): BootstrapToken;
  /** Adds a Host object. */
  addHost(namespace: string, name: string, address: string): void;
  close(): Promise<void>;
}

/** Starts a fixture; `signer` may wrap the ManagerPki. */
export async function startFixture(o: { log?: Logger; signer?: (pki: ManagerPki) => AgentCertificateSigner } = {}): Promise<Fixture> {
  const store = new FakeSecretStore();
  const pki = new ManagerPki({ store });
  const hosts = new Map<string, KubeObject>();
  const events: RecordedEvent[] = [];
  const now = { value: new Date() };
  const lookup: HostLookup = { getHost: async (ns, name) => hosts.get(`${ns}/${name}`) };
  const log = o.log ?? pino({ level: 'silent' });
  const server = new EnrollmentServer({
    host: '127.0.0.1',
    port: 0,
    log,
    deps: {
      secrets: store,
      hosts: lookup,
      signer: o.signer ? o.signer(pki) : pki,
      events: { event: (object, type, reason, message) => events.push({ object, type, reason, message }) },
      log,
      now: () => now.value,
    },
  });
  await server.listen();
  return {
    store,
    pki,
    hosts,
    events,
    server,
    port: server.port(),
    now,
    token(namespace, t = {}) {
      const token = generateBootstrapToken();
      store.put(namespace, bootstrapTokenSecret({ ...token, ...t }));
      return token;
    },
    addHost(namespace, name, address) {
      hosts.set(`${namespace}/${name}`, {
        apiVersion: 'drover.io/v1alpha1',
        kind: 'Host',
        metadata: { name, namespace, uid: `uid-${name}` },
        spec: { address, port: 54321 },
      });
    },
    close: () => server.close(),
  };
}

/** An enrollment request body with a correct proof for `token`. */
export function enrollBody(token: BootstrapToken, r: { hostName: string; namespace: string; csr: string }, extra: Record<string, unknown> = {}) {
  return { tokenId: token.id, hostName: r.hostName, namespace: r.namespace, csr: r.csr, proof: requestProof(token.secret, r), ...extra };
}

/** An HTTP answer. */
export interface Answer {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}

/** Sends a request to the fixture's server (TLS unverified, as the agent does). */
export function send(port: number, o: { method?: string; path?: string; body?: unknown; raw?: string; contentType?: string }): Promise<Answer> {
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: o.method ?? 'POST',
        path: o.path ?? '/v1/enroll',
        rejectUnauthorized: false,
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': o.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* keep text */
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
