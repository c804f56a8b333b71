/**
 * The self-hosted engine on the test bed, for the integration tests and the
 * benchmark: deploying the tiny guest as the Manager VM with the real
 * `drover hosted-engine deploy` run inside the first node, and the two
 * outside views of it (its health URL, and which hosts' libvirt run it).
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { GUEST_CMDLINE_BASE } from './guest-image/index.js';
import { GUEST_INITRD_PATH, GUEST_KERNEL_PATH } from './hosts.js';
import { guestAddress, hostExec, type ExecResult, type Testbed, type TestbedHost } from './testbed/index.js';
import { ENGINE_DOMAIN_NAME } from '../agent/hosted-engine/config.js';

/** Where the test bed's Manager VM answers, for a test bed. */
export function testbedEngineAddress(tb: Testbed): { ip: string; healthURL: string } {
  const ip = guestAddress(tb.subnet, 50);
  return { ip, healthURL: `http://${ip}/healthz` };
}

/** `drover hosted-engine ...` inside a test host, as an admin on that node runs it. */
export function hostedEngineOnNode(repoRoot: string, h: TestbedHost, args: string[]): Promise<ExecResult> {
  return hostExec(h, [process.execPath, join(repoRoot, 'dist', 'cli', 'main.js'), 'hosted-engine', ...args], { check: false, timeoutMs: 60_000 });
}

/**
 * Deploys the tiny guest as the Manager VM from `first` (TCG, 128 MiB,
 * kernel and initrd from the shared directory, libvirt over TCP for
 * migrations as in the test bed); `extra` adds deploy flags (timings).
 * Rejects with the command's output when it fails.
 */
export async function deployTestbedEngine(
  repoRoot: string,
  tb: Testbed,
  heDir: string,
  first: TestbedHost,
  extra: string[] = [],
  /** The first node's name as its agent knows it (`--host-name`; the Host object's name when enrolled). */
  nodeName: string = first.name,
): Promise<void> {
  const { ip, healthURL } = testbedEngineAddress(tb);
  const r = await hostedEngineOnNode(repoRoot, first, [
    'deploy',
    `--storage=${heDir}`,
    `--node=${nodeName}`,
    `--health-url=${healthURL}`,
    `--gateway=${tb.subnet.gateway}`,
    `--kernel=${join(tb.sharedDir, GUEST_KERNEL_PATH)}`,
    `--initrd=${join(tb.sharedDir, GUEST_INITRD_PATH)}`,
    `--cmdline=${GUEST_CMDLINE_BASE} drover.ip=${ip}/${tb.subnet.prefixLength} drover.gw=${tb.subnet.gateway} drover.name=manager`,
    '--memory=128Mi',
    '--cores=1',
    '--acceleration=tcg',
    '--migration-transport=tcp',
    `--address=${first.ip}`,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`drover hosted-engine deploy exited ${String(r.code)}:\n${r.stdout}\n${r.stderr}`);
}

/** Whether `url` answers 200 within 2 s (asked from the root namespace, like any client). */
export function engineHealthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Hosts whose libvirt reports the Manager VM running (asked inside each host; an unreachable one counts as not running). */
export async function engineRunningOn(hosts: readonly TestbedHost[]): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts) {
    const r = await hostExec(h, ['virsh', '-c', 'qemu:///system', 'list', '--name', '--state-running'], { check: false, timeoutMs: 15_000 }).catch(() => undefined);
    if (r?.code === 0 && r.stdout.split('\n').map((s) => s.trim()).includes(ENGINE_DOMAIN_NAME)) out.push(h.name);
  }
  return out;
}
