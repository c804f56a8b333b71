/**
 * Test hosts with real agents for integration tests: the test bed plus a
 * `drover agent` per host (src/dev/hosts.ts), AgentClients with the
 * operator's certificate, raw mTLS requests for bad-input tests, and virsh
 * run independently of the agent.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { AgentClient } from '../../src/agent/client/index.js';
import { startDevHosts, stopDevHosts, type DevHosts } from '../../src/dev/hosts.js';
import { waitForAgent } from '../../src/dev/environment.js';
import { run } from '../../src/dev/exec.js';
import { repoRoot, stateDir } from './env.js';

/** A started set of hosts with clients. */
export interface AgentHosts extends DevHosts {
  stateDir: string;
  sharedDir: string;
  clients: AgentClient[];
  tls: { ca: Buffer; cert: Buffer; key: Buffer };
}

/** Starts `count` hosts with agents under a name prefix and subnet of their own. */
export async function startAgentHosts(name: string, subnet: string, count = 2, agentArgs: string[] = []): Promise<AgentHosts> {
  const dir = join(stateDir(), name);
  const sharedDir = join(dir, 'shared');
  await stopDevHosts(dir);
  const hosts = await startDevHosts(repoRoot(), { stateDir: dir, hosts: count, sharedDir, subnet, namePrefix: name, agentArgs });
  for (const a of hosts.agents) await waitForAgent(hosts, a.ip, a.port);
  const tls = { ca: readFileSync(hosts.pki.caCert), cert: readFileSync(hosts.pki.operatorCert), key: readFileSync(hosts.pki.operatorKey) };
  const clients = hosts.agents.map((a) => new AgentClient({ host: a.ip, port: a.port, tls }));
  return { ...hosts, stateDir: dir, sharedDir, clients, tls };
}

/** Stops everything startAgentHosts started. */
export async function stopAgentHosts(hosts: AgentHosts | undefined): Promise<void> {
  if (!hosts) return;
  for (const c of hosts.clients) c.close();
  await stopDevHosts(hosts.stateDir);
}

/** virsh against a test host's libvirtd, not through the agent. */
export async function virsh(hosts: AgentHosts, index: number, args: string[]): Promise<string> {
  const host = hosts.testbed.hosts[index]!;
  return (await run('virsh', ['-c', host.libvirtUri, ...args])).stdout;
}

/** Names of every domain (any state) on a host, per virsh. */
export async function domainNames(hosts: AgentHosts, index: number): Promise<string[]> {
  return (await virsh(hosts, index, ['list', '--all', '--name'])).split('\n').map((s) => s.trim()).filter(Boolean).sort();
}

/** A raw HTTPS request to an agent with explicit TLS material (or none). */
export function rawRequest(
  ip: string,
  port: number,
  method: string,
  path: string,
  body: string | undefined,
  tls: { ca: Buffer | string; cert?: Buffer | string; key?: Buffer | string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: ip, port, method, path, ca: tls.ca, cert: tls.cert, key: tls.key, headers: body ? { 'content-type': 'application/json' } : {}, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
