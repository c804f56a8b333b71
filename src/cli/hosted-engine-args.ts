/**
 * Flags of `drover hosted-engine deploy|status|set-maintenance`, parsed and
 * checked before anything is touched: a bad flag is a clear message and
 * exit 2, with nothing changed. Pure (no file system access).
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { isQuantity, parseQuantity } from '../api/quantity.js';
import { HOST_NAME_PATTERN } from '../agent/heartbeat/record.js';
import { DEFAULT_TIMINGS, hostedEngineTimings, type HostedEngineTimings } from '../agent/hosted-engine/timings.js';
import { engineVmConfig, type EngineVmConfig } from '../agent/hosted-engine/config.js';
import { generateMac } from '../hypervisor/domainxml/index.js';
import { parseDuration } from './duration.js';

/** A parse result: the options, or the message for the user. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

/** Where the hosted-engine storage and this node's name come from when not given. */
interface Locating {
  /** `--storage`: the hosted-engine storage domain directory. */
  storage?: string;
  /** `--node`: this node's name. */
  node?: string;
  /** `--state-dir`: the agent's state directory (it records both). */
  stateDir: string;
}

/** Deploy options. */
export interface DeployOptions {
  storage: string;
  node: string;
  healthURL: string;
  gateway: string;
  vm: EngineVmConfig;
  /** Files to copy into `<storage>/hosted-engine/images/` (absolute source → relative target). */
  copies: { from: string; to: string }[];
  migrationTransport: 'tls' | 'tcp' | 'ssh';
  timings: HostedEngineTimings;
  libvirtUri: string;
  libvirtConfigDir: string;
  leaseManager: 'auto' | 'lockd' | 'sanlock' | 'none';
  address?: string;
}

/** Status options. */
export interface StatusOptions extends Locating {
  output: 'text' | 'json';
}

/** set-maintenance options. */
export interface MaintenanceOptions extends Locating {
  mode: 'global' | 'local' | 'none';
}

function parse(argv: string[], options: ParseArgsOptionsConfig): Parsed<Record<string, string | boolean | undefined>> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) return fail(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return { ok: true, value: values as Record<string, string | boolean | undefined> };
  } catch (error) {
    return fail((error as Error).message);
  }
}

function absolute(flag: string, v: string | undefined): Parsed<string | undefined> {
  if (v === undefined) return { ok: true, value: undefined };
  if (!path.isAbsolute(v) || v.split('/').includes('..')) return fail(`--${flag} must be an absolute path without ".."`);
  return { ok: true, value: v };
}

function nodeName(v: string | undefined): Parsed<string | undefined> {
  if (v === undefined) return { ok: true, value: undefined };
  return HOST_NAME_PATTERN.test(v) ? { ok: true, value: v } : fail('--node must be a lower-case DNS name (the Host\'s name)');
}

const LOCATING = {
  storage: { type: 'string' },
  node: { type: 'string' },
  'state-dir': { type: 'string', default: '/var/lib/drover/agent' },
} as const;

function locating(values: Record<string, string | boolean | undefined>): Parsed<Locating> {
  const storage = absolute('storage', values['storage'] as string | undefined);
  if (!storage.ok) return storage;
  const node = nodeName(values['node'] as string | undefined);
  if (!node.ok) return node;
  return { ok: true, value: { stateDir: values['state-dir'] as string, ...(storage.value ? { storage: storage.value } : {}), ...(node.value ? { node: node.value } : {}) } };
}

/** `status [--storage DIR] [--state-dir DIR] [-o json|text]`. */
export function parseStatusArgs(argv: string[]): Parsed<StatusOptions> {
  const p = parse(argv, { ...LOCATING, output: { type: 'string', short: 'o', default: 'text' } });
  if (!p.ok) return p;
  const output = p.value['output'];
  if (output !== 'text' && output !== 'json') return fail('-o must be text or json');
  const loc = locating(p.value);
  if (!loc.ok) return loc;
  return { ok: true, value: { ...loc.value, output } };
}

/** `set-maintenance --mode global|local|none [--node NAME] [--storage DIR] [--state-dir DIR]`. */
export function parseMaintenanceArgs(argv: string[]): Parsed<MaintenanceOptions> {
  const p = parse(argv, { ...LOCATING, mode: { type: 'string' } });
  if (!p.ok) return p;
  const mode = p.value['mode'];
  if (mode !== 'global' && mode !== 'local' && mode !== 'none') return fail('--mode must be global, local or none');
  const loc = locating(p.value);
  if (!loc.ok) return loc;
  return { ok: true, value: { ...loc.value, mode } };
}

const TIMING_FLAGS: [flag: string, key: keyof HostedEngineTimings][] = [
  ['metadata-interval', 'metadataIntervalMs'],
  ['host-alive-timeout', 'hostAliveTimeoutMs'],
  ['bad-health-timeout', 'badHealthTimeoutMs'],
  ['start-timeout', 'startTimeoutMs'],
  ['health-check-interval', 'healthCheckIntervalMs'],
  ['start-retry', 'startRetryMs'],
];

function timingsFrom(values: Record<string, string | boolean | undefined>): Parsed<HostedEngineTimings> {
  const t: Record<string, number> = { ...DEFAULT_TIMINGS };
  for (const [flag, key] of TIMING_FLAGS) {
    const v = values[flag] as string | undefined;
    if (v === undefined) continue;
    try {
      t[key] = parseDuration(v);
    } catch {
      return fail(`--${flag} must be a duration such as 10s or 500ms`);
    }
  }
  const gap = values['migrate-score-gap'] as string | undefined;
  if (gap !== undefined) {
    if (!/^\d+$/.test(gap)) return fail('--migrate-score-gap must be a whole number of score points');
    t['migrateScoreGap'] = Number(gap);
  }
  const checked = hostedEngineTimings.safeParse(t);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const flag = TIMING_FLAGS.find(([, k]) => k === issue.path[0])?.[0] ?? 'migrate-score-gap';
    return fail(`--${flag}: ${issue.message}`);
  }
  return { ok: true, value: checked.data };
}

/**
 * `deploy --storage DIR --health-url URL --gateway IP (--kernel FILE [--initrd FILE] [--cmdline S] | --disk-image FILE) ...`.
 * The VM's files are copied into the hosted-engine directory under `images/`.
 */
export function parseDeployArgs(argv: string[], defaults: { hostname: string }): Parsed<DeployOptions> {
  const p = parse(argv, {
    storage: { type: 'string' },
    node: { type: 'string' },
    'health-url': { type: 'string' },
    gateway: { type: 'string' },
    memory: { type: 'string', default: '4Gi' },
    cores: { type: 'string', default: '2' },
    kernel: { type: 'string' },
    initrd: { type: 'string' },
    cmdline: { type: 'string' },
    'disk-image': { type: 'string' },
    bridge: { type: 'string', default: 'br0' },
    mac: { type: 'string' },
    acceleration: { type: 'string', default: 'auto' },
    'migration-transport': { type: 'string', default: 'tls' },
    address: { type: 'string' },
    'libvirt-uri': { type: 'string', default: 'qemu:///system' },
    'libvirt-config-dir': { type: 'string', default: '/etc/libvirt' },
    'lease-manager': { type: 'string', default: 'auto' },
    'metadata-interval': { type: 'string' },
    'host-alive-timeout': { type: 'string' },
    'bad-health-timeout': { type: 'string' },
    'start-timeout': { type: 'string' },
    'health-check-interval': { type: 'string' },
    'start-retry': { type: 'string' },
    'migrate-score-gap': { type: 'string' },
  });
  if (!p.ok) return p;
  const v = p.value as Record<string, string | undefined>;
  const storage = absolute('storage', v['storage']);
  if (!storage.ok) return storage;
  if (storage.value === undefined) return fail('--storage (the hosted-engine storage domain directory) is required');
  const node = nodeName(v['node'] ?? defaults.hostname.toLowerCase());
  if (!node.ok) return fail(`${node.error}; this machine's host name does not qualify, give --node`);
  const url = v['health-url'];
  if (url === undefined) return fail('--health-url (what the Manager answers when healthy) is required');
  if (!URL.canParse(url) || !['http:', 'https:'].includes(new URL(url).protocol)) return fail('--health-url must be an http or https URL');
  const gateway = v['gateway'];
  if (gateway === undefined) return fail('--gateway (the address every node pings for its score) is required');
  if (isIP(gateway) === 0) return fail('--gateway must be an IP address');
  const memory = v['memory']!;
  if (!isQuantity(memory)) return fail('--memory must be a quantity such as 4Gi or 512Mi');
  const memoryMiB = Math.floor(parseQuantity(memory) / 2 ** 20);
  const cores = v['cores']!;
  if (!/^\d+$/.test(cores)) return fail('--cores must be a whole number');
  const files: Record<string, string | undefined> = {};
  for (const flag of ['kernel', 'initrd', 'disk-image']) {
    const f = absolute(flag, v[flag]);
    if (!f.ok) return f;
    files[flag] = f.value;
  }
  if (files['kernel'] === undefined && files['disk-image'] === undefined) return fail('give --kernel (direct kernel boot) or --disk-image: the Manager VM needs something to boot');
  const names = new Set<string>();
  const copies: { from: string; to: string }[] = [];
  const image = (from: string | undefined): string | undefined => {
    if (from === undefined) return undefined;
    let to = `images/${path.basename(from)}`;
    while (names.has(to)) to = `images/${copies.length}-${path.basename(from)}`;
    names.add(to);
    copies.push({ from, to });
    return to;
  };
  const uuid = randomUUID();
  const vmInput = {
    uuid,
    cores: Number(cores),
    memoryMiB,
    ...(files['disk-image'] !== undefined ? { diskImage: image(files['disk-image']) } : {}),
    ...(files['kernel'] !== undefined ? { kernel: image(files['kernel']) } : {}),
    ...(files['initrd'] !== undefined ? { initrd: image(files['initrd']) } : {}),
    ...(v['cmdline'] !== undefined ? { cmdline: v['cmdline'] } : {}),
    bridge: v['bridge'],
    mac: v['mac'] ?? generateMac(`hosted-engine/${uuid}`),
    acceleration: v['acceleration'],
  };
  const vm = engineVmConfig.safeParse(vmInput);
  if (!vm.success) {
    const issue = vm.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    const flag = ({ memoryMiB: 'memory', diskImage: 'disk-image' } as Record<string, string>)[field] ?? field;
    return fail(`--${flag}: ${issue.message}`);
  }
  const transport = v['migration-transport'];
  if (transport !== 'tls' && transport !== 'tcp' && transport !== 'ssh') return fail('--migration-transport must be tls, tcp or ssh');
  const lease = v['lease-manager'];
  if (lease !== 'auto' && lease !== 'lockd' && lease !== 'sanlock' && lease !== 'none') return fail('--lease-manager must be auto, lockd, sanlock or none');
  const address = v['address'];
  if (address !== undefined && !/^[A-Za-z0-9.:-]{1,253}$/.test(address)) return fail('--address must be an IP address or host name');
  const timings = timingsFrom(v);
  if (!timings.ok) return timings;
  return {
    ok: true,
    value: {
      storage: storage.value,
      node: node.value!,
      healthURL: url,
      gateway,
      vm: vm.data,
      copies,
      migrationTransport: transport,
      timings: timings.value,
      libvirtUri: v['libvirt-uri']!,
      libvirtConfigDir: v['libvirt-config-dir']!,
      leaseManager: lease,
      ...(address !== undefined ? { address } : {}),
    },
  };
}
