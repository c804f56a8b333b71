/**
 * The storage heartbeat file: each host writes, on every connected storage
 * domain, `<domain root>/.drover/heartbeats/<host>.json` holding
 * `{ host, bootId, seq, writtenAt }`, replaced atomically (temporary file,
 * fsync, rename), like the per-host slots of sanlock's delta leases or the
 * hosted-engine metadata. A host that still writes it still reaches the
 * storage, whatever its management network does.
 *
 * @packageDocumentation
 */
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { resolveExisting } from '../storage/safe-path.js';

/** Directory of the heartbeats, relative to a storage domain's root. */
export const HEARTBEAT_DIR = path.join('.drover', 'heartbeats');

/** Largest heartbeat file read: they are ~150 bytes, anything big is not one. */
const MAX_FILE_BYTES = 4096;

/**
 * A host name as it may appear in a file name: a DNS subdomain (the Host
 * object's name), so never `/`, `..` or a leading dot.
 */
export const HOST_NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** What a heartbeat file holds. */
export const heartbeatRecord = z.object({
  host: z.string().regex(HOST_NAME_PATTERN),
  /** Identifies one run of the writing agent: a restart starts a new one (and seq again). */
  bootId: z.string().min(1).max(64),
  seq: z.int().nonnegative(),
  /** The writer's wall clock, for people: readers never compute ages from it. */
  writtenAt: z.string().min(1).max(64),
});
/** A heartbeat file's content. */
export type HeartbeatRecord = z.infer<typeof heartbeatRecord>;

/**
 * Writes `record` as `<root>/.drover/heartbeats/<host>.json`. The directory
 * is checked to lie inside the root after symlinks are resolved, so a link
 * planted on the storage cannot redirect the write.
 */
export async function writeHeartbeat(root: string, record: HeartbeatRecord): Promise<void> {
  if (!HOST_NAME_PATTERN.test(record.host)) throw new Error(`host name ${JSON.stringify(record.host)} cannot name a heartbeat file`);
  await mkdir(path.join(root, HEARTBEAT_DIR), { recursive: true, mode: 0o755 });
  const dir = await resolveExisting(root, HEARTBEAT_DIR);
  await writeFileAtomic(path.join(dir, `${record.host}.json`), `${JSON.stringify(record)}\n`);
}

/**
 * Every valid heartbeat under `root`. Files that are not heartbeats (the
 * writer's temporary files, anything unparsable, or a file whose name
 * disagrees with the host inside) are skipped: one host's garbage must not
 * hide the others. A missing directory means no heartbeats yet.
 */
export async function readHeartbeats(root: string): Promise<HeartbeatRecord[]> {
  let dir: string;
  try {
    dir = await resolveExisting(root, HEARTBEAT_DIR);
  } catch (error) {
    if ((error as { kind?: string }).kind === 'NotFound') return [];
    throw error;
  }
  const records: HeartbeatRecord[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.') || !entry.name.endsWith('.json')) continue;
    const host = entry.name.slice(0, -'.json'.length);
    if (!HOST_NAME_PATTERN.test(host)) continue;
    try {
      const text = await readFile(path.join(dir, entry.name), 'utf8');
      if (text.length > MAX_FILE_BYTES) continue;
      const parsed = heartbeatRecord.safeParse(JSON.parse(text));
      if (parsed.success && parsed.data.host === host) records.push(parsed.data);
    } catch {
      // Vanished or unreadable between readdir and read: skip this round.
    }
  }
  return records.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}
