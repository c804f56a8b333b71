/**
 * The invalid-manifest corpus (test/invalid/*.yaml) and the zod object schema
 * of each kind, shared by the API-server test and the zod test. Headers:
 *
 *   # expect: <substring of the API server's error>   (required, first line)
 *   # zod: <substring of formatIssues() output>       (optional, when it differs)
 *   # zod: skip (<reason>)                            (zod structurally can't see it)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { hostObject, managerObject, migrationObject, storageDomainObject, virtualMachineObject } from '../../src/api/kinds.js';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');
/** Where the corpus lives. */
export const CORPUS_DIR = join(ROOT, 'test/invalid');
/** The examples, the corpus's control group. */
export const EXAMPLES_DIR = join(ROOT, 'examples');

/** The zod object schema of each Drover kind. */
export const SCHEMAS: Record<string, z.ZodType> = {
  Manager: managerObject,
  Host: hostObject,
  StorageDomain: storageDomainObject,
  VirtualMachine: virtualMachineObject,
  VirtualMachineMigration: migrationObject,
};

/** One corpus file and what its header expects. */
export interface CorpusFile {
  file: string;
  text: string;
  /** Substring of the API server's error. */
  expect: string;
  /** Substring of the zod issues, when it differs from `expect`. */
  zod: string | undefined;
  /** Why zod cannot see this one, when it can't. */
  skipReason: string | undefined;
}

/** Reads the corpus, sorted by file name; a file without `# expect:` is an error. */
export function loadCorpus(): CorpusFile[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(CORPUS_DIR, file), 'utf8');
      const lines = text.split('\n');
      const expectMatch = /^# expect: (.+)$/.exec(lines[0] ?? '');
      if (!expectMatch?.[1]) throw new Error(`${file}: the first line must be "# expect: <substring>"`);
      const zodLine = lines.filter((l) => l.startsWith('#')).map((l) => /^# zod: (.+)$/.exec(l)?.[1]).find((v) => v !== undefined);
      const skip = zodLine !== undefined ? /^skip \((.+)\)$/.exec(zodLine) : null;
      return { file, text, expect: expectMatch[1].trim(), zod: skip ? undefined : zodLine?.trim(), skipReason: skip?.[1] };
    });
}
