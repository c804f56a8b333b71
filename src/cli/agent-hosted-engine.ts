/**
 * `drover agent --hosted-engine DIR`: starts the hosted-engine HA role
 * before anything else of the agent (enrollment may need the Manager, and
 * the Manager may be the VM this role has to restart), with a hypervisor
 * driver of its own so it does not share a fate with the API server's.
 *
 * The node's name is `--host-name` when given, else the CN of `--cert`,
 * else the machine's host name; its address for incoming migrations is
 * `--hosted-engine-address`, else the `--listen` address when it is a
 * specific one.
 *
 * @packageDocumentation
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { HOST_NAME_PATTERN } from '../agent/heartbeat/index.js';
import { HostedEngineService, writeNodeIdentity } from '../agent/hosted-engine/index.js';
import type { LeaseConfig } from '../agent/leases/index.js';
import { LibvirtDriver, type Acceleration } from '../hypervisor/libvirt/index.js';

/** The agent flags the role reads. */
export interface HostedEngineFlags {
  'hosted-engine'?: string;
  'hosted-engine-address'?: string;
  'host-name'?: string;
  cert?: string;
  listen: string;
  'libvirt-uri': string;
  acceleration: string;
  'state-dir': string;
}

function certName(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    const cn = /^CN=(.+)$/m.exec(new X509Certificate(readFileSync(file)).subject)?.[1]?.trim().toLowerCase();
    return cn !== undefined && HOST_NAME_PATTERN.test(cn) ? cn : undefined;
  } catch {
    return undefined;
  }
}

/** The node name the role writes its metadata under. */
export function hostedEngineNodeName(flags: Pick<HostedEngineFlags, 'host-name' | 'cert'>): string {
  return (flags['host-name'] ?? certName(flags.cert) ?? hostname()).toLowerCase();
}

/** The address given by `--listen` when it names one host, not a wildcard. */
function listenAddress(listen: string): string | undefined {
  const host = listen.split(/:(?=[^:]*$)/)[0]?.replace(/^\[|\]$/g, '');
  return host === undefined || host === '' || host === '0.0.0.0' || host === '::' ? undefined : host;
}

/**
 * Starts the role when `--hosted-engine` is given.
 * @returns the running service, undefined without the flag, or a usage error message.
 */
export async function startHostedEngineRole(flags: HostedEngineFlags, leases: LeaseConfig, log: Logger): Promise<HostedEngineService | undefined | { error: string }> {
  const dir = flags['hosted-engine'];
  if (dir === undefined) return undefined;
  if (!path.isAbsolute(dir)) return { error: '--hosted-engine must be the absolute path of the hosted-engine storage domain' };
  if (!(statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false)) return { error: `--hosted-engine: ${dir} is not a directory (is the hosted-engine storage mounted?)` };
  const node = hostedEngineNodeName(flags);
  if (!HOST_NAME_PATTERN.test(node)) return { error: `the node name ${JSON.stringify(node)} is not a lower-case DNS name; give --host-name` };
  const address = flags['hosted-engine-address'] ?? listenAddress(flags.listen);
  if (address !== undefined && !/^[A-Za-z0-9.:-]{1,253}$/.test(address)) return { error: '--hosted-engine-address must be an IP address or host name' };
  // A driver of its own: the role must keep working whatever happens to the API server's.
  const driver = new LibvirtDriver({ uri: flags['libvirt-uri'], acceleration: flags.acceleration as Acceleration });
  const service = new HostedEngineService({ domainDir: dir, node, ...(address !== undefined ? { address } : {}), driver, leases, logger: log });
  try {
    await writeNodeIdentity(flags['state-dir'], { node, storage: dir });
  } catch (error) {
    // Only the CLI's default for --node and --storage depends on it.
    log.warn({ err: error }, 'cannot record the hosted-engine identity in the state directory');
  }
  service.start();
  return service;
}
