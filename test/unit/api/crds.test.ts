/**
 * crds/ must be exactly what src/api generates. src/tools/gen-crds.ts runs its
 * main() on import (top-level await), which would rewrite crds/ from inside
 * the test, so it is compiled (only it and its imports) to a temporary
 * directory and run as `gen-crds.js --check`, which exits 1 on drift.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { KINDS } from '../../../src/api/kinds.js';

const ROOT = resolve(import.meta.dirname, '../../..');
let work: string;
let script: string;

function check(cwd: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [script, '--check'], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'drover-gen-crds-'));
  const out = join(work, 'out');
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: {
        rootDir: join(ROOT, 'src'),
        outDir: out,
        typeRoots: [join(ROOT, 'node_modules/@types')],
        sourceMap: false,
        noEmitOnError: true,
      },
      files: [join(ROOT, 'src/tools/gen-crds.ts')],
      include: [],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(work, 'tsconfig.json')], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  // The compiled files resolve yaml and zod from the repository, as ESM.
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  script = join(out, 'tools/gen-crds.js');
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('crds/', () => {
  it('is exactly what gen-crds renders from src/api (gen-crds --check exits 0)', () => {
    const r = check(ROOT);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);

  it('--check does detect drift (so the check above means something)', () => {
    const copy = join(work, 'drifted');
    cpSync(join(ROOT, 'crds'), join(copy, 'crds'), { recursive: true });
    const file = join(copy, 'crds/hosts.drover.io.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('maximum: 65535', 'maximum: 65536'));
    const r = check(copy);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('hosts.drover.io.yaml');
    // And it wrote nothing.
    expect(readFileSync(file, 'utf8')).toContain('maximum: 65536');
  }, 60_000);

  it('has one CRD per kind, named <plural>.drover.io, listed in the kustomization', () => {
    const kustomization = parse(readFileSync(join(ROOT, 'crds/kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(kustomization.resources).toEqual(KINDS.map((k) => `${k.plural}.drover.io.yaml`));
    for (const kind of KINDS) {
      const crd = parse(readFileSync(join(ROOT, `crds/${kind.plural}.drover.io.yaml`), 'utf8')) as {
        metadata: { name: string };
        spec: { names: { kind: string } };
      };
      expect(crd.metadata.name).toBe(`${kind.plural}.drover.io`);
      expect(crd.spec.names.kind).toBe(kind.kind);
    }
  });
});
