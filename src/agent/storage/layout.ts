/**
 * On-disk layout of a formatted storage domain (after oVirt's file domains):
 *
 * ```
 * <root>/<uuid>/dom_md/metadata   identity (JSON, replaced atomically)
 * <root>/<uuid>/dom_md/probe      scratch file of the health probe
 * <root>/<uuid>/images/<volume>.qcow2|.raw
 * ```
 *
 * The UUID directory lets a domain be recognised wherever it is mounted,
 * and keeps Drover's files apart from anything else on the file system.
 *
 * @packageDocumentation
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { UUID_PATTERN } from './names.js';
import type { DomainMetadata } from './types.js';

/** Metadata directory name. */
export const DOM_MD = 'dom_md';
/** Metadata file name inside {@link DOM_MD}. */
export const METADATA_FILE = 'metadata';
/** Health probe scratch file inside {@link DOM_MD}. */
export const PROBE_FILE = 'probe';
/** Volume directory name. */
export const IMAGES = 'images';
/** Version of the layout above, written into the metadata. */
export const METADATA_VERSION = 1;

/** A formatted domain found under a root. */
export interface FormattedDomain {
  uuid: string;
  /** `<root>/<uuid>` (not symlink-resolved; entries that are symlinks are ignored). */
  dir: string;
  metadata: DomainMetadata;
}

const ROLES = new Set(['Data', 'ISO', 'HostedEngine']);

/** Parses and checks a metadata file's content. */
export function parseMetadata(json: string): DomainMetadata {
  const m = JSON.parse(json) as Partial<DomainMetadata>;
  if (
    typeof m.uuid !== 'string' ||
    typeof m.name !== 'string' ||
    typeof m.role !== 'string' ||
    !ROLES.has(m.role) ||
    typeof m.version !== 'number' ||
    typeof m.createdAt !== 'string'
  ) {
    throw new Error('storage domain metadata is incomplete');
  }
  return { uuid: m.uuid, name: m.name, role: m.role, version: m.version, createdAt: m.createdAt };
}

/**
 * Formatted domains directly under `root`: real directories (not symlinks)
 * named by a UUID whose metadata names the same UUID. Sorted by UUID.
 */
export async function findFormatted(root: string): Promise<FormattedDomain[]> {
  const entries = await readdir(root, { withFileTypes: true });
  const found: FormattedDomain[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !UUID_PATTERN.test(e.name)) continue;
    const dir = path.join(root, e.name);
    try {
      const metadata = parseMetadata(await readFile(path.join(dir, DOM_MD, METADATA_FILE), 'utf8'));
      if (metadata.uuid === e.name) found.push({ uuid: e.name, dir, metadata });
    } catch {
      // Not (or not completely) a Drover domain: not ours to judge.
    }
  }
  return found.sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
}
