/**
 * Test hosts for the development environment and the integration tests: the
 * multi-host test bed (src/dev/testbed) plus one `drover agent` per host,
 * started inside the host's namespaces against that host's own libvirtd, with
 * certificates from the development Manager CA. Shared storage holds the
 * directories the examples use and the tiny guest's kernel and initrd.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureGuestImage } from './guest-image/index.js';
import { ensureManagerPki, type ManagerPki } from './pki.js';
import { down, startOnHost, up, type Testbed } from './testbed/index.js';

/** Port agents listen on (VDSM's). */
export const AGENT_PORT = 54321;

/** Where the dev environment's shared storage lives (the examples' paths). */
export const DEV_SHARED_DIR = '/var/lib/drover/testbed/shared';

/** Hosts with running agents. */
export interface DevHosts {
  testbed: Testbed;
  pki: ManagerPki;
  agents: { host: string; ip: string; pid: number; port: number; logFile: string; argv: string[] }[];
}

/** Options for {@link startDevHosts}. */
export interface DevHostsOptions {
  stateDir: string;
  hosts: number;
  sharedDir?: string;
  subnet?: string;
  namePrefix?: string;
  /** Accelerator for VMs: TCG by default, since a Linux guest under nested KVM is slow here (see DESIGN). */
  acceleration?: 'auto' | 'kvm' | 'tcg';
  /** Extra agent flags (e.g. a short heartbeat in tests). */
  agentArgs?: string[];
}

/** Brings up the test bed, lays out shared storage, and starts an agent on every host. */
export async function startDevHosts(repoRoot: string, options: DevHostsOptions): Promise<DevHosts> {
  const sharedDir = options.sharedDir ?? DEV_SHARED_DIR;
  await mkdir(sharedDir, { recursive: true });
  const testbed = await up({
    stateDir: options.stateDir,
    hosts: options.hosts,
    sharedDir,
    ...(options.subnet ? { subnet: options.subnet } : {}),
    ...(options.namePrefix ? { namePrefix: options.namePrefix } : {}),
  });
  try {
    for (const dir of ['data', 'images/guest', 'hosted-engine']) await mkdir(join(sharedDir, dir), { recursive: true });
    const guest = await ensureGuestImage();
    await copyFile(guest.kernel, join(sharedDir, 'images', 'guest', 'vmlinuz'));
    await copyFile(guest.initrd, join(sharedDir, 'images', 'guest', 'initrd.img'));
    const pki = await ensureManagerPki(join(options.stateDir, 'pki'), testbed.hosts.map((h) => ({ name: h.name, ip: h.ip })));
    const agents: DevHosts['agents'] = [];
    for (const host of testbed.hosts) {
      const certs = pki.hosts[host.name]!;
      const logFile = join(host.logDir, 'agent.log');
      const argv = [
          process.execPath, join(repoRoot, 'dist', 'cli', 'main.js'), 'agent',
          `--listen=${host.ip}:${AGENT_PORT}`, `--cert=${certs.cert}`, `--key=${certs.key}`, `--ca=${pki.caCert}`,
          '--libvirt-uri=qemu:///system', `--acceleration=${options.acceleration ?? 'tcg'}`,
          `--state-dir=${join(host.runDir, 'agent')}`, ...(options.agentArgs ?? []),
      ];
      const proc = await startOnHost(host, argv, logFile);
      agents.push({ host: host.name, ip: host.ip, pid: proc.pid, port: AGENT_PORT, logFile, argv });
    }
    return { testbed, pki, agents };
  } catch (error) {
    await down(options.stateDir);
    throw error;
  }
}

/** Stops agents, libvirt daemons, VMs and namespaces of the test bed in `stateDir`. */
export async function stopDevHosts(stateDir: string): Promise<void> {
  await down(stateDir);
}
