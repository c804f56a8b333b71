/**
 * The connected domains of this host, persisted in `<stateDir>/domains.json`
 * so that an agent restart reconnects them.
 *
 * @packageDocumentation
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { StorageConnection } from './types.js';

/** A connected domain as recorded. */
export interface DomainRecord {
  name: string;
  connection: StorageConnection;
  /** Directory holding the domain (the path itself, or the mount point for NFS). */
  root: string;
  /** Whether this agent mounted `root` (and so unmounts it on disconnect). */
  mountedByUs: boolean;
}

interface RegistryFile {
  version: 1;
  domains: DomainRecord[];
}

/** Name of the registry file in the state directory. */
export const REGISTRY_FILE = 'domains.json';

/** Loads the records; an absent file means none. */
export async function loadRegistry(stateDir: string): Promise<Map<string, DomainRecord>> {
  let text: string;
  try {
    text = await readFile(path.join(stateDir, REGISTRY_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const parsed = JSON.parse(text) as RegistryFile;
  if (parsed.version !== 1 || !Array.isArray(parsed.domains)) throw new Error(`${REGISTRY_FILE}: unknown format`);
  return new Map(parsed.domains.map((d) => [d.name, d]));
}

/** Writes the records atomically (private to root: it names mount sources). */
export async function saveRegistry(stateDir: string, records: Map<string, DomainRecord>): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const body: RegistryFile = { version: 1, domains: [...records.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) };
  await writeFileAtomic(path.join(stateDir, REGISTRY_FILE), `${JSON.stringify(body, null, 2)}\n`, 0o600);
}
