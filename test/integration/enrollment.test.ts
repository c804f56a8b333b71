/**
 * Host enrollment end to end against the real API server: the Manager's CA
 * made through the operator ServiceAccount's credentials (so RBAC in deploy/
 * is what is tested), a bootstrap token from `drover token create`, the
 * enrollment server of a real operator process, and real `drover agent`
 * processes (libvirt's test:///default driver, no daemon) that enroll and
 * then serve mutual TLS with the issued certificate.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { AgentClient } from '../../src/agent/client/index.js';
import { createTestPki } from '../../src/agent/pki/index.js';
import { freePort } from '../../src/dev/controlplane.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { KubeSecretStore } from '../../src/kube/secrets.js';
import { ManagerPki } from '../../src/pki/manager-pki.js';
import type { ManagerCa } from '../../src/pki/types.js';
import { adminKubeconfig, eventually, freshNamespace, kubectl, kubectlResult, repoRoot, stateDir } from '../support/env.js';
import { killOperator, operatorCredentials, startOperator, type OperatorProcess } from '../support/operator.js';

const CLI = () => join(repoRoot(), 'dist', 'cli', 'main.js');

let namespace: string;
let op: OperatorProcess;
let enrollPort: number;
let pki: ManagerPki;
let ca: ManagerCa;
const agents: ChildProcess[] = [];
const dirs: string[] = [];

/** Runs the CLI to completion; never throws for a non-zero exit. */
function runCli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running agent process; its output is kept for failure messages. */
function startAgent(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI(), 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  agents.push(child);
  return { child, output: () => output };
}

async function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

async function createToken(host?: string): Promise<string> {
  const args = ['token', 'create', '--namespace', namespace, '--ttl', '10m', '--kubeconfig', adminKubeconfig()];
  if (host) args.push('--host', host);
  const r = await runCli(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // Only the token on stdout, so scripts can capture it.
  expect(r.stdout).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}\n$/);
  return r.stdout.trim();
}

async function secretExists(name: string): Promise<boolean> {
  const r = await kubectlResult(['get', 'secret', name, '-n', namespace, '-o', 'name']);
  if (!r.ok && !/NotFound/.test(r.stderr)) throw new Error(r.stderr);
  return r.ok;
}

/** Any HTTPS answer from the enrollment server means it is up. */
function enrollmentAnswers(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/enroll', method: 'GET', rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function enrollArgs(o: { listen: number; state: string; token: string; host?: string; hash?: string }): string[] {
  return [
    `--listen=127.0.0.1:${o.listen}`,
    '--libvirt-uri=test:///default',
    `--state-dir=${o.state}`,
    `--enroll-url=https://127.0.0.1:${enrollPort}`,
    `--bootstrap-token=${o.token}`,
    `--host-name=${o.host ?? 'host1'}`,
    `--namespace=${namespace}`,
    `--ca-cert-hash=${o.hash ?? ca.caCertHash}`,
  ];
}

beforeAll(async () => {
  const credentials = await operatorCredentials();
  namespace = await freshNamespace('enroll');
  enrollPort = await freePort();
  // Watching only this namespace: whatever the reconcilers do stays here.
  op = await startOperator('op-enroll', [`--enroll-listen=127.0.0.1:${enrollPort}`, `--watch-namespace=${namespace}`]);
  await eventually(async () => (await enrollmentAnswers(enrollPort)) === 405, 30_000);
  await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
    apiVersion: 'drover.io/v1alpha1', kind: 'Manager', metadata: { name: 'demo', namespace }, spec: { mode: 'Standalone' },
  }));
  // The library with the operator's own ServiceAccount token: the RBAC in deploy/ must allow it.
  pki = new ManagerPki({ store: new KubeSecretStore(loadKubeConfig(credentials)) });
  ca = await pki.ensureCa(namespace, 'demo');
});

afterAll(async () => {
  for (const a of agents) await stopAgent(a);
  if (op) await killOperator(op, 'SIGTERM');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('host enrollment with a bootstrap token', () => {
  let agentPort: number;
  let agentState: string;
  let token: string;

  it('the CA is in its Secret, and the operator ServiceAccount finds the same one again', async () => {
    const { stdout } = await kubectl(['get', 'secret', 'demo-ca', '-n', namespace, '-o', 'json']);
    const secret = JSON.parse(stdout) as { type: string; metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata.labels['drover.io/manager']).toBe('demo');
    expect(Buffer.from(secret.data['tls.crt']!, 'base64').toString('utf8')).toBe(ca.caCertPem);
    const again = await new ManagerPki({ store: new KubeSecretStore(loadKubeConfig(await operatorCredentials())) }).ensureCa(namespace, 'demo');
    expect(again.caCertHash).toBe(ca.caCertHash);
  });

  it('an agent enrolls, then serves mutual TLS with a certificate for its Host from the Manager CA', async () => {
    agentPort = await freePort();
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: { name: 'host1', namespace }, spec: { address: '127.0.0.1', port: agentPort },
    }));
    token = await createToken('host1');
    const tokenId = token.split('.')[0]!;
    expect(await secretExists(`bootstrap-token-${tokenId}`)).toBe(true);

    agentState = await tempDir('drover-enroll-agent-');
    const agent = startAgent(enrollArgs({ listen: agentPort, state: agentState, token }));
    const tls = (await pki.clientTls(namespace))!;
    const client = new AgentClient({ host: '127.0.0.1', port: agentPort, tls, timeoutMs: 5_000 });
    try {
      // stats(), not capabilities(): libvirt's test driver reports no host UUID, which capabilities requires.
      const stats = await eventually(async () => {
        if (agent.child.exitCode !== null) throw new Error(`agent exited ${agent.child.exitCode}: ${agent.output()}`);
        return await client.stats();
      }, 60_000, 250).catch((error: unknown) => {
        throw new Error(`${String(error)}\nagent output:\n${agent.output()}`);
      });
      expect(stats).toBeDefined();
    } finally {
      client.close();
    }
    // The agent trusts the Manager's CA only: a client certificate from another CA fails the handshake.
    const foreign = await createTestPki(await tempDir('drover-enroll-foreign-'));
    const stranger = new AgentClient({ host: '127.0.0.1', port: agentPort, tls: { ...foreign.client, ca: ca.caCertPem }, timeoutMs: 5_000 });
    try {
      await expect(stranger.stats()).rejects.toMatchObject({ reason: 'Unreachable' });
    } finally {
      stranger.close();
    }

    const cert = new X509Certificate(await readFile(join(agentState, 'pki', 'cert.pem')));
    const caCert = new X509Certificate(ca.caCertPem);
    expect(cert.subject).toBe('CN=host1');
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:host1');
    expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
    expect(await readFile(join(agentState, 'pki', 'ca.pem'), 'utf8')).toBe(ca.caCertPem);
    // The token is spent, and the Host says so in an Event.
    expect(await secretExists(`bootstrap-token-${tokenId}`)).toBe(false);
    await eventually(async () => {
      const { stdout } = await kubectl(['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=host1,reason=Enrolled', '-o', 'name']);
      return stdout.trim() !== '';
    }, 15_000);
    // Nothing in the agent's log carries the token secret.
    expect(agent.output()).not.toContain(token.split('.')[1]);
  });

  it('a second agent with the same token is refused and exits non-zero', async () => {
    const r = await runCli(['agent', ...enrollArgs({ listen: await freePort(), state: await tempDir('drover-enroll-again-'), token })]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/enrollment refused \(HTTP 403 TokenNotFound\): bootstrap token rejected/);
  });

  it('an agent pinned to another CA refuses to enroll, and the token is not spent', async () => {
    const fresh = await createToken('host1');
    const r = await runCli(['agent', ...enrollArgs({ listen: await freePort(), state: await tempDir('drover-enroll-pin-'), token: fresh, hash: `sha256:${'0'.repeat(64)}` })]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/CaCertHashMismatch/);
    expect(await secretExists(`bootstrap-token-${fresh.split('.')[0]}`)).toBe(true);
  });

  it('a token bound to another host is refused', async () => {
    const bound = await createToken('host1');
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: { name: 'host2', namespace }, spec: { address: '127.0.0.2' },
    }));
    const r = await runCli(['agent', ...enrollArgs({ listen: await freePort(), state: await tempDir('drover-enroll-bound-'), token: bound, host: 'host2' })]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/HTTP 403 HostMismatch/);
  });

  it('a restarted agent starts from its enrolled files without a usable token', async () => {
    for (const a of agents) await stopAgent(a);
    // The token on the command line is long spent: only the files on disk can make this work.
    const agent = startAgent(enrollArgs({ listen: agentPort, state: agentState, token }));
    const client = new AgentClient({ host: '127.0.0.1', port: agentPort, tls: (await pki.clientTls(namespace))!, timeoutMs: 5_000 });
    try {
      await eventually(async () => {
        if (agent.child.exitCode !== null) throw new Error(`agent exited ${agent.child.exitCode}: ${agent.output()}`);
        return await client.stats();
      }, 60_000, 250);
      expect(agent.output()).toContain('using the enrolled certificate');
    } finally {
      client.close();
    }
  });

  it('an agent without certificates or enrollment flags exits 2', async () => {
    const r = await runCli(['agent', '--libvirt-uri=test:///default', `--state-dir=${stateDir()}/enroll-none`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing: --enroll-url, --host-name, --namespace, --bootstrap-token/);
  });
});
