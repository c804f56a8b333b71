/**
 * `drover hosted-engine`: deploy the self-hosted Manager VM and look after
 * it from a node's command line, without the Manager (hosted-engine
 * --deploy's role).
 *
 * - `deploy`: on the first node, prepare the hosted-engine storage domain
 *   (its `hosted-engine/` directory, the VM's files copied under `images/`),
 *   write the shared configuration and this node's first metadata, define and
 *   start the Manager VM here. Then start every node's agent with
 *   `--hosted-engine DIR`.
 * - `status [-o json]`: scores, states and where the VM runs, from the shared
 *   metadata alone (a node is live when it wrote within the host-alive
 *   timeout, by wall clock).
 * - `set-maintenance --mode global|local|none`: global is shared; local and
 *   none apply to the node it runs on (none also ends global maintenance).
 *
 * @packageDocumentation
 */
import { constants } from 'node:fs';
import { copyFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { CONFIG_FORMAT, EngineVm, HostedEngineStore, MAX_SCORE, readNodeIdentity, readStatus, type HostedEngineConfig } from '../agent/hosted-engine/index.js';
import { readLeaseConfig, type LeaseManager } from '../agent/leases/index.js';
import type { HostedEngineStatus } from '../api/agent/hosted-engine.js';
import { LibvirtDriver } from '../hypervisor/libvirt/index.js';
import { parseDeployArgs, parseMaintenanceArgs, parseStatusArgs, type DeployOptions } from './hosted-engine-args.js';

const USAGE = `usage: drover hosted-engine <command> [flags]

commands:
  deploy --storage DIR --health-url URL --gateway IP (--kernel FILE [--initrd FILE] [--cmdline S] | --disk-image FILE)
         [--node NAME] [--memory 4Gi] [--cores 2] [--bridge br0] [--mac MAC] [--acceleration auto|kvm|tcg]
         [--migration-transport tls|tcp|ssh] [--address IP] [--libvirt-uri URI] [--libvirt-config-dir DIR]
         [--metadata-interval 2s] [--host-alive-timeout 10s] [--bad-health-timeout 30s] [--start-timeout 5m]
         [--health-check-interval 2s] [--start-retry 5s] [--migrate-score-gap 800]
         prepare the hosted-engine storage domain and start the Manager VM on this node
  status [-o text|json] [--storage DIR] [--state-dir DIR]
         scores, states and where the Manager VM runs, from the shared metadata
  set-maintenance --mode global|local|none [--node NAME] [--storage DIR] [--state-dir DIR]
         global: no node acts on the Manager VM; local: this node gives it away; none: both off
`;

function usageError(message: string): number {
  process.stderr.write(`drover hosted-engine: ${message}\n`);
  return 2;
}

/** Runs `drover hosted-engine ...`. */
export async function hostedEngineCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'deploy':
      return deploy(rest);
    case 'status':
      return status(rest);
    case 'set-maintenance':
      return setMaintenance(rest);
    default:
      process.stderr.write(USAGE);
      return sub === undefined || sub === 'help' || sub === '--help' ? 0 : 2;
  }
}

/** The storage directory and node from the flags, else from the agent's record in its state directory. */
async function locate(o: { storage?: string; node?: string; stateDir: string }): Promise<{ storage: string; node?: string } | { error: string }> {
  const id = o.storage === undefined || o.node === undefined ? await readNodeIdentity(o.stateDir) : undefined;
  const storage = o.storage ?? id?.storage;
  if (storage === undefined) return { error: `no --storage given and no hosted-engine agent recorded in ${o.stateDir} (give --storage, or --state-dir of the agent)` };
  const node = o.node ?? id?.node;
  return node === undefined ? { storage } : { storage, node };
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function deploy(argv: string[]): Promise<number> {
  const parsed = parseDeployArgs(argv, { hostname: hostname() });
  if (!parsed.ok) return usageError(parsed.error);
  const o = parsed.value;
  // Every check that can fail on input runs before anything is written.
  if (!(await isDirectory(o.storage))) return usageError(`--storage: ${o.storage} is not a directory (mount the hosted-engine storage domain first)`);
  const store = new HostedEngineStore(o.storage);
  const existing = await store.readConfig();
  if (existing.ok || existing.reason !== 'NotDeployed') return usageError(`${store.file('config.json')} exists: the hosted engine is already deployed on this storage domain`);
  for (const c of o.copies) {
    const st = await stat(c.from).catch(() => undefined);
    if (!st?.isFile()) return usageError(`${c.from} is not a readable file`);
  }
  let leases: Awaited<ReturnType<typeof readLeaseConfig>>;
  try {
    leases = await readLeaseConfig(o.libvirtConfigDir, o.leaseManager === 'auto' ? undefined : (o.leaseManager as LeaseManager));
  } catch (error) {
    return usageError(`cannot read the lease settings in ${o.libvirtConfigDir}: ${(error as Error).message}`);
  }
  if (leases.manager !== 'lockd' || leases.lockspace === undefined) {
    process.stderr.write('drover hosted-engine: warning: libvirt has no lockd lockspace here; without a lease nothing but timing keeps the Manager VM from running twice\n');
  }

  await store.prepare();
  for (const c of o.copies) {
    // A fresh file (see src/dev/hosts.ts): an overwritten one would keep stale libvirt DAC xattrs.
    await rm(store.file(c.to), { force: true });
    await copyFile(c.from, store.file(c.to), constants.COPYFILE_EXCL);
  }
  const config: HostedEngineConfig = {
    format: CONFIG_FORMAT,
    version: 1,
    vm: o.vm,
    healthURL: o.healthURL,
    gateway: o.gateway,
    migrationTransport: o.migrationTransport,
    timings: o.timings,
    deployedBy: o.node,
    deployedAt: new Date().toISOString(),
  };
  await store.writeConfig(config);
  process.stdout.write(`hosted-engine storage prepared: ${store.root} (configuration version 1, Manager VM ${config.vm.uuid})\n`);
  return startOnThisNode(o, store, config, leases);
}

async function startOnThisNode(o: DeployOptions, store: HostedEngineStore, config: HostedEngineConfig, leases: Awaited<ReturnType<typeof readLeaseConfig>>): Promise<number> {
  const driver = new LibvirtDriver({ uri: o.libvirtUri, acceleration: o.vm.acceleration });
  const outcome = await new EngineVm({ driver, leases, root: store.root }).start(config);
  if (!outcome.ok) {
    process.stderr.write(`drover hosted-engine: the Manager VM did not start on this node: ${outcome.message}\n` +
      'The configuration is written: the HA agents (drover agent --hosted-engine) will start it on the best node.\n');
    return 1;
  }
  // This node's first metadata, so the other nodes' agents see the VM running here before this node's agent writes.
  await store.writeNode({
    name: o.node,
    bootId: `deploy-${config.vm.uuid.slice(0, 8)}`,
    seq: 1,
    writtenAt: new Date().toISOString(),
    score: MAX_SCORE,
    penalties: {},
    state: 'EngineStarting',
    localMaintenance: false,
    engineRunning: true,
    engineHealth: 'unknown',
    configVersion: config.version,
    ...(o.address !== undefined ? { address: o.address } : {}),
  });
  process.stdout.write(`Manager VM started on ${o.node}.\nNext: start the agent on every self-hosted engine node with --hosted-engine ${o.storage}\n`);
  return 0;
}

function renderText(s: HostedEngineStatus): string {
  const lines = [
    `Manager VM: ${s.engineState}${s.engineHost ? ` on ${s.engineHost}` : ''}`,
    `Global maintenance: ${s.globalMaintenance ? 'ON (no node acts on the Manager VM)' : 'off'}`,
    '',
    'NODE                 LIVE  SCORE  STATE                    ENGINE      LOCAL-MAINT  LAST UPDATE',
  ];
  for (const n of s.nodes) {
    const engine = n.engineRunning ? `up/${n.engineHealth}` : 'down';
    lines.push(
      `${n.name.padEnd(20)} ${(n.live ? 'yes' : 'NO').padEnd(5)} ${String(n.score).padStart(5)}  ${n.state.padEnd(24)} ${engine.padEnd(11)} ${(n.localMaintenance ? 'yes' : 'no').padEnd(12)} ${n.lastUpdate}`,
    );
    const penalties = Object.entries(n.penalties ?? {}).map(([k, v]) => `${k} -${v}`);
    if (penalties.length > 0) lines.push(`${''.padEnd(21)}penalties: ${penalties.join(', ')}`);
  }
  if (s.nodes.length === 0) lines.push('(no node has written metadata yet)');
  return `${lines.join('\n')}\n`;
}

async function status(argv: string[]): Promise<number> {
  const parsed = parseStatusArgs(argv);
  if (!parsed.ok) return usageError(parsed.error);
  const where = await locate(parsed.value);
  if ('error' in where) return usageError(where.error);
  if (!(await isDirectory(where.storage))) return usageError(`${where.storage} is not a directory`);
  const config = await new HostedEngineStore(where.storage).readConfig();
  if (!config.ok && config.reason === 'NotDeployed') {
    process.stderr.write(`drover hosted-engine: ${config.message}\n`);
    return 1;
  }
  const s = await readStatus(where.storage);
  process.stdout.write(parsed.value.output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : renderText(s));
  return 0;
}

async function setMaintenance(argv: string[]): Promise<number> {
  const parsed = parseMaintenanceArgs(argv);
  if (!parsed.ok) return usageError(parsed.error);
  const o = parsed.value;
  const where = await locate(o);
  if ('error' in where) return usageError(where.error);
  const store = new HostedEngineStore(where.storage);
  const config = await store.readConfig();
  if (!config.ok) return usageError(config.message);
  if (o.mode !== 'global' && where.node === undefined) return usageError(`--mode ${o.mode} applies to this node: give --node, or --state-dir of its agent`);
  const by = `cli@${where.node ?? hostname()}`;
  if (o.mode === 'global') await store.writeGlobalMaintenance(true, by);
  if (o.mode === 'local') await store.writeLocalMaintenance(where.node!, true);
  if (o.mode === 'none') {
    await store.writeLocalMaintenance(where.node!, false);
    await store.writeGlobalMaintenance(false, by);
  }
  const what = o.mode === 'global' ? 'global maintenance on' : o.mode === 'local' ? `local maintenance on for ${where.node}` : `maintenance off (global, and local for ${where.node})`;
  process.stdout.write(`${what}; the agents act on it within one metadata interval (${config.config.timings.metadataIntervalMs} ms)\n`);
  return 0;
}
