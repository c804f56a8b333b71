/**
 * The API server is the first line of defence: every manifest in
 * test/invalid/ must be rejected by a server-side dry-run apply, with an error
 * naming the field (the file's `# expect:` header). The examples are the
 * control: they pass the same command, so the rejections are not caused by
 * the namespace, the CRDs missing, or the command itself.
 */
import { afterAll, beforeAll, describe, expect, it, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { freshNamespace, kubectl, kubectlResult } from '../support/env.js';
import { EXAMPLES_DIR, SCHEMAS, loadCorpus } from '../support/corpus.js';

const corpus = loadCorpus().map((c) => ({ ...c, unknownField: /unknown (key|field)/i.test(c.skipReason ?? '') }));

let ns: string;

beforeAll(async () => {
  ns = await freshNamespace('api-validation');
});

afterAll(async () => {
  if (ns) await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

/** Server-side dry-run apply with strict field validation. */
function dryRunApply(manifest: string, extra: string[] = []) {
  return kubectlResult(['apply', '--server-side', '--dry-run=server', '--validate=strict', '--field-manager=api-validation-test', ...extra, '-f', '-'], manifest);
}

describe('invalid corpus is rejected by the API server', () => {
  it('has at least 35 files', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(35);
  });

  for (const c of corpus) {
    test(`${c.file}: rejected naming "${c.expect}"`, async () => {
      const result = await dryRunApply(c.text.replaceAll('PLACEHOLDER_NS', ns));
      expect(result.ok).toBe(false);
      expect(result.stderr).toContain(c.expect);
      // The failure is the object's, not the command's or the namespace's.
      expect(result.stderr).not.toMatch(/namespaces? ".*" not found|the server doesn't have a resource type|no matches for kind/);
    });
  }

  // Server-side apply rejects unknown fields whatever the field validation
  // level; a plain create needs fieldValidation=Strict to see them (the
  // default for kubectl, but not for every client).
  for (const c of corpus.filter((f) => f.unknownField)) {
    it(`${c.file}: a strict (non-apply) create names the unknown field too`, async () => {
      const manifest = c.text.replaceAll('PLACEHOLDER_NS', ns);
      const strict = await kubectlResult(['create', '--dry-run=server', '--validate=strict', '-f', '-'], manifest);
      expect(strict.ok).toBe(false);
      expect(strict.stderr).toContain(`unknown field "${c.expect.replace(/^\./, '')}"`);
    });
  }
});

describe('examples pass the same command (control)', () => {
  const objects = readdirSync(EXAMPLES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(EXAMPLES_DIR, file), 'utf8'))
        .map((d) => d.toJS() as Record<string, any> | null)
        // Drover's objects only (examples/gitops also holds kustomizations and Argo CD / Flux objects).
        .filter((o): o is Record<string, any> => o !== null && String(o['apiVersion']).startsWith('drover.io/'))
        .map((object) => ({ file, object })),
    );

  it('there are examples of every kind but migrations', () => {
    const kinds = new Set(objects.map((o) => o.object['kind']));
    for (const kind of ['Manager', 'Host', 'StorageDomain', 'VirtualMachine']) expect(kinds).toContain(kind);
  });

  for (const { file, object } of objects) {
    it(`${file} ${object['kind']}/${object['metadata'].name} is accepted, with the same defaults zod applies`, async () => {
      const manifest = stringify({ ...object, metadata: { ...object['metadata'], namespace: ns } });
      const result = await dryRunApply(manifest, ['-o', 'json']);
      expect(result.stderr).toBe('');
      expect(result.ok).toBe(true);
      const served = JSON.parse(result.stdout) as { spec: unknown };
      const parsed = SCHEMAS[object['kind']]!.parse(object) as { spec: unknown };
      // The API server's structural defaults and zod's defaults are the same.
      expect(served.spec).toEqual(parsed.spec);
    });
  }

  it('a minimal VirtualMachine and Migration are accepted (the corpus is not rejected for missing context)', async () => {
    const vm = await dryRunApply(
      stringify({
        apiVersion: 'drover.io/v1alpha1',
        kind: 'VirtualMachine',
        metadata: { name: 'web-1', namespace: ns },
        spec: { cpu: { cores: 1 }, memory: '16Mi', disks: [{ name: 'root', storageDomain: 'data', size: '1Mi', bootOrder: 1 }] },
      }),
    );
    expect(vm).toMatchObject({ ok: true });
    const migration = await dryRunApply(
      stringify({ apiVersion: 'drover.io/v1alpha1', kind: 'VirtualMachineMigration', metadata: { name: 'move-web-1', namespace: ns }, spec: { vmName: 'web-1' } }),
    );
    expect(migration).toMatchObject({ ok: true });
  });
});

describe('immutability (transition rules)', () => {
  const sd = (name: string, spec: Record<string, unknown>) =>
    stringify({ apiVersion: 'drover.io/v1alpha1', kind: 'StorageDomain', metadata: { name, namespace: ns }, spec });
  const apply = (manifest: string) =>
    kubectlResult(['apply', '--server-side', '--field-manager=api-validation-test', '-f', '-'], manifest);

  it('StorageDomain spec.type cannot change, even with the matching block', async () => {
    expect(await apply(sd('data', { type: 'PosixFS', posix: { path: '/srv/data' } }))).toMatchObject({ ok: true });
    const changed = await apply(sd('data', { type: 'NFS', nfs: { server: 'nfs.example.com', path: '/exports/data' } }));
    expect(changed.ok).toBe(false);
    expect(changed.stderr).toContain('spec.type');
    expect(changed.stderr).toContain('spec.type is immutable');
    // Nothing changed on the server.
    const { stdout } = await kubectl(['get', 'storagedomain', 'data', '-n', ns, '-o', 'json']);
    const spec = (JSON.parse(stdout) as { spec: Record<string, unknown> }).spec;
    expect(spec['type']).toBe('PosixFS');
    expect(spec['nfs']).toBeUndefined();
  });

  it('StorageDomain spec.role cannot change', async () => {
    expect(await apply(sd('images', { type: 'PosixFS', role: 'ISO', posix: { path: '/srv/images' } }))).toMatchObject({ ok: true });
    const changed = await apply(sd('images', { type: 'PosixFS', role: 'Data', posix: { path: '/srv/images' } }));
    expect(changed.ok).toBe(false);
    expect(changed.stderr).toContain('spec.role is immutable');
  });

  it('StorageDomain mutable fields still change (control)', async () => {
    expect(await apply(sd('scratch', { type: 'PosixFS', posix: { path: '/srv/scratch' } }))).toMatchObject({ ok: true });
    const changed = await apply(sd('scratch', { type: 'PosixFS', posix: { path: '/srv/scratch2' }, warningLowSpacePercent: 20 }));
    expect(changed).toMatchObject({ ok: true });
    const { stdout } = await kubectl(['get', 'storagedomain', 'scratch', '-n', ns, '-o', 'jsonpath={.spec.posix.path} {.spec.warningLowSpacePercent}']);
    expect(stdout).toBe('/srv/scratch2 20');
  });

  it('a VirtualMachineMigration spec cannot change at all, but its labels can', async () => {
    const migration = (spec: Record<string, unknown>, labels: Record<string, string> = {}) =>
      stringify({ apiVersion: 'drover.io/v1alpha1', kind: 'VirtualMachineMigration', metadata: { name: 'move-web-1', namespace: ns, labels }, spec });
    expect(await apply(migration({ vmName: 'web-1' }))).toMatchObject({ ok: true });

    const otherVm = await apply(migration({ vmName: 'web-2' }));
    expect(otherVm.ok).toBe(false);
    expect(otherVm.stderr).toContain('spec is immutable');

    const target = await apply(migration({ vmName: 'web-1', targetHost: 'host-2' }));
    expect(target.ok).toBe(false);
    expect(target.stderr).toContain('spec is immutable');

    expect(await apply(migration({ vmName: 'web-1' }, { purpose: 'test' }))).toMatchObject({ ok: true });
    const { stdout } = await kubectl(['get', 'virtualmachinemigration', 'move-web-1', '-n', ns, '-o', 'json']);
    expect((JSON.parse(stdout) as { spec: unknown }).spec).toEqual({ vmName: 'web-1' });
  });
});
