/** Confinement of paths to a storage domain root, on a real temporary tree. */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkRelative, isInside, resolveChild, resolveExisting } from '../../../src/agent/storage/safe-path.js';

describe('isInside / checkRelative', () => {
  it('compares by path segments, not string prefixes', () => {
    expect(isInside('/srv/a', '/srv/a')).toBe(true);
    expect(isInside('/srv/a', '/srv/a/b/c')).toBe(true);
    expect(isInside('/srv/a', '/srv/ab')).toBe(false);
    expect(isInside('/srv/a', '/srv')).toBe(false);
    expect(isInside('/srv/a', '/srv/a/..foo')).toBe(true);
  });

  it('refuses absolute, empty, traversing and control-character paths', () => {
    expect(checkRelative('images/x.qcow2')).toBe('images/x.qcow2');
    expect(checkRelative('..foo')).toBe('..foo');
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a/..', 'a\u0000b']) {
      expect(() => checkRelative(bad)).toThrow(expect.objectContaining({ kind: 'InvalidSpec' }));
    }
  });
});

describe('resolveExisting / resolveChild', () => {
  let base: string;
  let root: string;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'drover-safe-path-'));
    root = path.join(base, 'root');
    await mkdir(path.join(root, 'images'), { recursive: true });
    await mkdir(path.join(base, 'outside'));
    await writeFile(path.join(base, 'outside', 'secret'), 's');
    await writeFile(path.join(root, 'images', 'a.qcow2'), 'a');
    await symlink(path.join(base, 'outside'), path.join(root, 'out-dir'));
    await symlink(path.join(base, 'outside', 'secret'), path.join(root, 'images', 'b.qcow2'));
    await symlink('a.qcow2', path.join(root, 'images', 'c.qcow2'));
    // The root itself reached through a symlink: its real path is what counts.
    await symlink(root, path.join(base, 'root-link'));
  });

  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('returns real paths inside the root', async () => {
    expect(await resolveExisting(root, 'images/a.qcow2')).toBe(path.join(root, 'images', 'a.qcow2'));
    expect(await resolveExisting(root, 'images/c.qcow2')).toBe(path.join(root, 'images', 'a.qcow2'));
    expect(await resolveExisting(path.join(base, 'root-link'), 'images/a.qcow2')).toBe(path.join(root, 'images', 'a.qcow2'));
  });

  it('refuses symlinks that lead out, and reports missing files as NotFound', async () => {
    await expect(resolveExisting(root, 'out-dir/secret')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(resolveExisting(root, 'images/b.qcow2')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(resolveExisting(root, 'images/none')).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('resolves a new file in a confined directory, refusing symlinked files and directories', async () => {
    expect(await resolveChild(root, 'images', 'new.qcow2')).toBe(path.join(root, 'images', 'new.qcow2'));
    await expect(resolveChild(root, 'images', 'c.qcow2')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(resolveChild(root, 'out-dir', 'x.qcow2')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(resolveChild(root, 'images', '../x')).rejects.toMatchObject({ kind: 'InvalidSpec' });
  });
});
