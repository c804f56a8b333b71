/**
 * The shared hosted-engine metadata on the hosted-engine storage domain,
 * under `<domain dir>/hosted-engine/`:
 *
 * - `config.json`: the shared configuration (config.ts), written by deploy;
 * - `nodes/<node>.json`: one file per node, written only by that node (its
 *   score, state, penalties, the Manager VM as it sees it, a sequence number);
 * - `maintenance/<node>.json`: that node's local maintenance switch, set on
 *   that node (its CLI or its agent's API);
 * - `global-maintenance.json`: the global maintenance switch.
 *
 * Every write replaces its file atomically (temporary file, fsync, rename,
 * fsync of the directory), so a reader sees an old or a new file. Reading
 * still tolerates anything (a torn file from a foreign tool, a file cut
 * short by a dying storage): an unreadable node file is skipped, as if that
 * node had not written yet, and never hides the others.
 *
 * @packageDocumentation
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { HOST_NAME_PATTERN } from '../heartbeat/record.js';
import { CONFIG_FORMAT, hostedEngineConfig, type HostedEngineConfig } from './config.js';

/** The directory inside the hosted-engine storage domain. */
export const HOSTED_ENGINE_DIR = 'hosted-engine';

/** Largest metadata file read: they are well under 1 KiB; anything big is not one. */
const MAX_FILE_BYTES = 64 * 1024;

/** A node's metadata file. */
export const nodeRecord = z.object({
  name: z.string().regex(HOST_NAME_PATTERN),
  /** One run of the writing agent: a restart starts a new one (and seq again). */
  bootId: z.string().min(1).max(64),
  seq: z.int().nonnegative(),
  /** The writer's wall clock (RFC 3339). Agents judge liveness by seeing seq change, the CLI by this. */
  writtenAt: z.string().min(1).max(64),
  score: z.int().min(0).max(3400),
  penalties: z.record(z.string(), z.int()),
  state: z.string().min(1).max(64),
  localMaintenance: z.boolean(),
  engineRunning: z.boolean(),
  engineHealth: z.enum(['good', 'bad', 'unknown']),
  /** The config version the node decides with (0: none readable). */
  configVersion: z.int().nonnegative(),
  /** Where the node's libvirt is reached for a migration to it. */
  address: z.string().max(253).optional(),
});

/** A node's metadata. */
export type NodeRecord = z.infer<typeof nodeRecord>;

const switchFile = z.object({ enabled: z.boolean(), setAt: z.string().max(64).optional(), setBy: z.string().max(253).optional() });

/** What reading the configuration gave. */
export type ConfigRead =
  | { ok: true; config: HostedEngineConfig }
  | { ok: false; reason: 'NotDeployed' | 'Invalid' | 'Unsupported'; message: string };

async function readSmall(file: string): Promise<string | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    return text.length > MAX_FILE_BYTES ? undefined : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function checkNodeName(name: string): string {
  if (!HOST_NAME_PATTERN.test(name)) throw new Error(`node name ${JSON.stringify(name)} cannot name a metadata file (lower-case DNS name expected)`);
  return name;
}

/** Reads and writes the shared metadata of one hosted-engine storage domain. */
export class HostedEngineStore {
  /** `<domain dir>/hosted-engine`. */
  readonly root: string;

  constructor(readonly domainDir: string) {
    this.root = path.join(domainDir, HOSTED_ENGINE_DIR);
  }

  /** Path of a file under the hosted-engine directory. */
  file(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  /** Creates the directories (deploy, and any node writing its first record). */
  async prepare(): Promise<void> {
    for (const dir of ['nodes', 'maintenance', 'images']) await mkdir(this.file(dir), { recursive: true, mode: 0o755 });
  }

  /** The configuration, or why there is none usable. Throws only on I/O errors. */
  async readConfig(): Promise<ConfigRead> {
    const text = await readSmall(this.file('config.json'));
    if (text === undefined) return { ok: false, reason: 'NotDeployed', message: `no ${this.file('config.json')}: run drover hosted-engine deploy` };
    const json = parseJson(text);
    if (json !== null && typeof json === 'object' && typeof (json as { format?: unknown }).format === 'number' && (json as { format: number }).format > CONFIG_FORMAT) {
      return { ok: false, reason: 'Unsupported', message: `config format ${(json as { format: number }).format} is newer than this agent's (${CONFIG_FORMAT}): upgrade the agent` };
    }
    const parsed = hostedEngineConfig.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, reason: 'Invalid', message: `config.json is not a valid configuration: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unreadable'}` };
    }
    return { ok: true, config: parsed.data };
  }

  /** Replaces the configuration. */
  async writeConfig(config: HostedEngineConfig): Promise<void> {
    await this.prepare();
    await writeFileAtomic(this.file('config.json'), `${JSON.stringify(hostedEngineConfig.parse(config), null, 2)}\n`);
  }

  /** Every node's metadata that can be read; unreadable, partial or misnamed files are skipped. */
  async readNodes(): Promise<NodeRecord[]> {
    let entries: string[];
    try {
      entries = await readdir(this.file('nodes'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const records: NodeRecord[] = [];
    for (const entry of entries.sort()) {
      if (entry.startsWith('.') || !entry.endsWith('.json')) continue;
      const name = entry.slice(0, -'.json'.length);
      if (!HOST_NAME_PATTERN.test(name)) continue;
      const text = await readSmall(this.file('nodes', entry)).catch(() => undefined);
      if (text === undefined) continue;
      const parsed = nodeRecord.safeParse(parseJson(text));
      // A file naming another node is not that node's word.
      if (parsed.success && parsed.data.name === name) records.push(parsed.data);
    }
    return records;
  }

  /** Replaces this node's metadata (only the node itself calls this). */
  async writeNode(record: NodeRecord): Promise<void> {
    const name = checkNodeName(record.name);
    await mkdir(this.file('nodes'), { recursive: true, mode: 0o755 });
    await writeFileAtomic(this.file('nodes', `${name}.json`), `${JSON.stringify(nodeRecord.parse(record))}\n`);
  }

  /** Global maintenance: true/false, or undefined when the switch file is unreadable (callers keep what they knew). */
  async readGlobalMaintenance(): Promise<boolean | undefined> {
    return this.readSwitch(this.file('global-maintenance.json'));
  }

  /** Sets global maintenance. */
  async writeGlobalMaintenance(enabled: boolean, setBy: string): Promise<void> {
    await this.prepare();
    await writeFileAtomic(this.file('global-maintenance.json'), `${JSON.stringify({ enabled, setAt: new Date().toISOString(), setBy })}\n`);
  }

  /** A node's local maintenance: true/false, or undefined when unreadable. */
  async readLocalMaintenance(node: string): Promise<boolean | undefined> {
    return this.readSwitch(this.file('maintenance', `${checkNodeName(node)}.json`));
  }

  /** Sets a node's local maintenance (on that node). */
  async writeLocalMaintenance(node: string, enabled: boolean): Promise<void> {
    const name = checkNodeName(node);
    await this.prepare();
    await writeFileAtomic(this.file('maintenance', `${name}.json`), `${JSON.stringify({ enabled, setAt: new Date().toISOString(), setBy: name })}\n`);
  }

  private async readSwitch(file: string): Promise<boolean | undefined> {
    let text: string | undefined;
    try {
      text = await readSmall(file);
    } catch {
      return undefined;
    }
    // No file: the switch was never set, which is off.
    if (text === undefined) return false;
    const parsed = switchFile.safeParse(parseJson(text));
    return parsed.success ? parsed.data.enabled : undefined;
  }
}
