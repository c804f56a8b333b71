/** The API reference generator: comments read from TypeScript, fields with type/default/validation/description, and the checked-in file is current. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { findComment, readCommentedLiterals } from '../../../src/tools/api-docs/comments.js';
import { fieldRows } from '../../../src/tools/api-docs/render.js';
import { openAPISchema } from '../../../src/api/crd.js';
import { renderApiDocs } from '../../../src/tools/gen-api-docs.js';

describe('readCommentedLiterals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'api-docs-'));
  const file = join(dir, 'x.ts');
  writeFileSync(
    file,
    `/** Shared CPU schema. */
export const cpu = z.object({ cores: z.int() });
export const spec = z.object({
  /** How many.
   * @internal */
  count: z.int(),
  cpu: cpu.optional(),
  plain: z.string(),
});
export const other = z.object({ /** Another count. */ count: z.int(), extra: z.string(), more: z.string(), evenMore: z.string() });`,
  );
  const literals = readCommentedLiterals([file]);

  it('keeps each property comment with its literal, tags dropped', () => {
    expect(findComment(literals, 'count', ['count', 'cpu', 'plain'])).toBe('How many.');
  });

  it('uses the declaration comment of a named schema', () => {
    expect(findComment(literals, 'cpu', ['count', 'cpu', 'plain'])).toBe('Shared CPU schema.');
  });

  it('lends no comment from an unrelated literal with a same-named key', () => {
    expect(findComment(literals, 'plain', ['count', 'cpu', 'plain'])).toBeUndefined();
    expect(findComment(literals, 'count', ['count', 'unrelated', 'keys'])).toBeUndefined();
  });
});

describe('fieldRows', () => {
  it('gives path, type, default, validation and required for nested fields', () => {
    const schema = openAPISchema(
      z.object({
        size: z.int().min(1).max(9).default(3),
        mode: z.enum(['A', 'B']),
        items: z.array(z.object({ name: z.string().max(5) })).optional(),
      }),
    );
    const rows = fieldRows(schema, 'spec', []);
    expect(rows.map((r) => [r.path, r.type, r.required, r.default, r.validation.join('; ')])).toEqual([
      ['spec.size', 'integer', false, '3', '≥ 1; ≤ 9'],
      ['spec.mode', 'string', true, undefined, 'one of `A`, `B`'],
      ['spec.items[]', 'array of object', false, undefined, ''],
      ['spec.items[].name', 'string', true, undefined, 'length ≤ 5'],
    ]);
  });
});

describe('docs/api-reference.md', () => {
  it('is current and documents every field', async () => {
    const missing: string[] = [];
    const text = await renderApiDocs(process.cwd(), missing);
    expect(missing).toEqual([]);
    expect(readFileSync(join(process.cwd(), 'docs', 'api-reference.md'), 'utf8')).toBe(text);
    expect(text).toContain('| `spec.availability.heartbeatIntervalSeconds` | integer | `5` | ≥ 1; ≤ 300 | How often agents report in. |');
  });
});
