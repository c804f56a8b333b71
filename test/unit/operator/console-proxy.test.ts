/**
 * The console proxy between a WebSocket client and an agent-side console
 * endpoint, both real HTTPS servers on loopback: authentication (bearer
 * token through the reviewer, no credentials → 401), authorization (403 with
 * a one-line reason for a user who may not update the VM), unknown VMs
 * (404), and bytes relayed both ways to the VM's console. The reviewer and
 * the object store are in memory here; test/integration/plugin.test.ts runs
 * the same path against the real API server, agents and guest.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { ConsoleEndpoint, type ConsoleSource, type ConsoleStream } from '../../../src/agent/console/index.js';
import { bearerToken, userFromCertificate } from '../../../src/operator/console/authenticate.js';
import { ConsoleProxy, proxyConsolePath } from '../../../src/operator/console/proxy.js';
import type { AccessReviewer, ResourceAccess, UserInfo } from '../../../src/kube/access-review.js';
import type { KubeObject, ObjectClient, ResourceType } from '../../../src/kube/types.js';
import { createSelfSignedServerCert, type PemKeyPair } from '../../../src/pki/openssl.js';
import { connectWebSocket, WebSocketRefusedError } from '../../../src/ws/index.js';

const log = pino({ level: 'silent' });
const UID = '0b6f7a52-4c8e-4a55-9d0f-1f2e3d4c5b6a';

/** A console that echoes what is typed, upper-cased, as a guest shell would answer. */
class EchoConsoles implements ConsoleSource {
  opened: string[] = [];
  async open(uid: string): Promise<ConsoleStream> {
    this.opened.push(uid);
    let listener: (d: Buffer) => void = () => {};
    return {
      write: (d) => listener(Buffer.from(d.toString().toUpperCase())),
      onData: (l) => (listener = l),
      onEnd: () => {},
      close: () => {},
    };
  }
}

const reviewer: AccessReviewer = {
  async authenticate(token: string): Promise<UserInfo | undefined> {
    return { editor: { username: 'alice', groups: ['devs'] }, viewer: { username: 'bob', groups: [] } }[token];
  },
  async authorize(user: UserInfo, access: ResourceAccess) {
    return { allowed: user.username === 'alice' && access.verb === 'update' && access.resource === 'virtualmachines' };
  },
};

let agentCert: PemKeyPair;
let agent: Server;
let proxy: ConsoleProxy;
const consoles = new EchoConsoles();

beforeAll(async () => {
  // The agent's certificate names its Host (CN host-1) and address; self-signed, so it is its own CA.
  agentCert = await createSelfSignedServerCert('host-1', { ips: ['127.0.0.1'] }, 1);
  const serving = await createSelfSignedServerCert('drover-console', { ips: ['127.0.0.1'] }, 1);
  agent = createServer({ cert: agentCert.certPem, key: agentCert.keyPem });
  const endpoint = new ConsoleEndpoint(consoles, log);
  agent.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head, 'operator'));
  await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
  const agentPort = (agent.address() as AddressInfo).port;
  const objects: Record<string, KubeObject> = {
    'VirtualMachine/web': { metadata: { name: 'web', namespace: 'ns', uid: UID }, status: { host: 'host-1', phase: 'Running' } },
    'Host/host-1': { metadata: { name: 'host-1', namespace: 'ns' }, spec: { address: '127.0.0.1', port: agentPort } },
  };
  const client = { get: async (type: ResourceType, _ns: string, name: string) => objects[`${type.kind}/${name}`] } as unknown as ObjectClient;
  proxy = new ConsoleProxy({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: serving.certPem, key: serving.keyPem },
    reviewer,
    client,
    agentTls: async () => ({ cert: serving.certPem, key: serving.keyPem, ca: agentCert.certPem }),
    log,
  });
  await proxy.listen();
  (globalThis as { servingCa?: string }).servingCa = serving.certPem;
});

afterAll(async () => {
  await proxy.close();
  agent.closeAllConnections();
  await new Promise<void>((r) => agent.close(() => r()));
});

const url = (vm: string) => `wss://127.0.0.1:${proxy.port()}${proxyConsolePath('ns', vm)}`;
const ca = () => (globalThis as { servingCa?: string }).servingCa as string;

async function refusal(vm: string, token?: string): Promise<WebSocketRefusedError> {
  const error = await connectWebSocket(url(vm), { ca: ca(), headers: token ? { Authorization: `Bearer ${token}` } : {} }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WebSocketRefusedError);
  return error as WebSocketRefusedError;
}

describe('ConsoleProxy', () => {
  it('relays an authorized user to the console of the VM on its host', async () => {
    const ws = await connectWebSocket(url('web'), { ca: ca(), headers: { Authorization: 'Bearer editor' } });
    const answer = new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));
    ws.send(Buffer.from('echo hi\r'));
    expect(await answer).toBe('ECHO HI\r');
    expect(consoles.opened).toContain(UID);
    ws.close();
  });

  it('refuses a user who may not update the VM with 403 and a one-line reason', async () => {
    const e = await refusal('web', 'viewer');
    expect(e.status).toBe(403);
    expect(JSON.parse(e.body).error.message).toBe('user "bob" may not update virtualmachines.drover.io "web" in namespace "ns", which the console requires');
  });

  it('answers 401 without credentials or with a token the API server does not accept', async () => {
    expect((await refusal('web')).status).toBe(401);
    expect((await refusal('web', 'forged')).status).toBe(401);
  });

  it('answers 404 for an unknown VM, after authorization', async () => {
    const e = await refusal('nope', 'editor');
    expect(e.status).toBe(404);
    expect(JSON.parse(e.body).error.message).toBe('virtualmachine "nope" not found in namespace "ns"');
    // A user without rights learns nothing about which VMs exist.
    expect((await refusal('nope', 'viewer')).status).toBe(403);
  });
});

describe('authentication helpers', () => {
  it('reads bearer tokens', () => {
    expect(bearerToken({ authorization: 'Bearer abc.def' })).toBe('abc.def');
    expect(bearerToken({ authorization: 'Basic Zm9v' })).toBeUndefined();
    expect(bearerToken({})).toBeUndefined();
  });

  it('takes the user from CN and groups from O, as kube-apiserver does', () => {
    expect(userFromCertificate({ subject: { CN: 'admin', O: ['system:masters', 'ops'] } as never })).toEqual({ username: 'admin', groups: ['system:masters', 'ops'] });
    expect(userFromCertificate({ subject: { CN: 'jane', O: 'devs' } as never })).toEqual({ username: 'jane', groups: ['devs'] });
    expect(userFromCertificate({ subject: { O: 'devs' } as never })).toBeUndefined();
  });
});
