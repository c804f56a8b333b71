/**
 * Writes docs/api-reference.md from the zod schemas in src/api (and the
 * TSDoc comments on their fields). With `--check` it writes nothing and
 * exits 1 when the file differs or a field has no description
 * (scripts/test.sh runs that, like the CRD drift check). Fields without a
 * description are listed on stderr.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KINDS } from '../api/kinds.js';
import { readCommentedLiterals } from './api-docs/comments.js';
import { renderApiReference } from './api-docs/render.js';

/** Renders the reference from the sources under `root` (the repository). */
export async function renderApiDocs(root: string, missing: string[] = []): Promise<string> {
  const dir = join(root, 'src', 'api');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
  return renderApiReference(KINDS, readCommentedLiterals(files), missing);
}

async function main(): Promise<void> {
  const root = process.cwd();
  const path = join(root, 'docs', 'api-reference.md');
  const missing: string[] = [];
  const text = await renderApiDocs(root, missing);
  if (missing.length > 0) console.error(`fields without a description (${missing.length}): ${missing.join(', ')}`);
  if (process.argv.includes('--check')) {
    if ((await readFile(path, 'utf8').catch(() => '')) !== text) {
      console.error('docs/api-reference.md drifted from src/api. Run: npm run gen:api-docs');
      process.exit(1);
    }
    // Every field is documented: a new field needs a TSDoc comment (or .describe()).
    if (missing.length > 0) process.exit(1);
    return;
  }
  await writeFile(path, text);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
