/**
 * FileStorageManager on real directories with real qemu-img: layout,
 * capacity against df, volumes checked with qemu-img directly, path
 * confinement, persistence across instances, and the mount-backed types
 * where this kernel allows them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStorageManager, REGISTRY_FILE } from '../../src/agent/storage/index.js';
import { run, runChecked } from '../../src/dev/testbed/index.js';
import { DriverError } from '../../src/hypervisor/driver.js';

const MiB = 1024 * 1024;

async function qemuImgInfo(file: string): Promise<{ format: string; 'virtual-size': number; 'actual-size': number }> {
  return JSON.parse((await runChecked(['qemu-img', 'info', '--output=json', '-U', file])).stdout) as {
    format: string;
    'virtual-size': number;
    'actual-size': number;
  };
}

/** `df -B1 --output=size,avail <dir>` → bytes. */
async function df(dir: string): Promise<{ size: number; avail: number }> {
  const lines = (await runChecked(['df', '-B1', '--output=size,avail', dir])).stdout.trim().split('\n');
  const [size, avail] = (lines[1] ?? '').trim().split(/\s+/).map(Number);
  return { size: size ?? NaN, avail: avail ?? NaN };
}

describe('FileStorageManager', () => {
  let base: string;
  let stateDir: string;
  let domainDir: string;
  let outside: string;
  let storage: FileStorageManager;
  const uuid = randomUUID();
  const tmpfsMounts: string[] = [];

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'drover-storage-'));
    stateDir = path.join(base, 'agent');
    domainDir = path.join(base, 'posix1');
    outside = path.join(base, 'outside');
    await mkdir(domainDir);
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret'), 'not yours');
    storage = new FileStorageManager({ stateDir });
  });

  afterAll(async () => {
    for (const m of tmpfsMounts.reverse()) await run(['umount', m]);
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('connects a PosixFS directory and reports it unformatted, with capacity equal to df', async () => {
    const st = await storage.connect('posix1', { type: 'PosixFS', path: domainDir });
    expect(st).toMatchObject({ name: 'posix1', connected: true });
    expect(st.metadata).toBeUndefined();
    expect(st.health).toBeUndefined();
    const d = await df(domainDir);
    expect(st.capacity?.totalBytes).toBe(d.size);
    // Free space moves with everything else on the machine: allow 64 MiB.
    expect(Math.abs((st.capacity?.freeBytes ?? 0) - d.avail)).toBeLessThan(64 * MiB);
    // Connecting again with the same connection is a no-op; with another, a Conflict.
    await expect(storage.connect('posix1', { type: 'PosixFS', path: domainDir })).resolves.toMatchObject({ connected: true });
    await expect(storage.connect('posix1', { type: 'LocalFS', path: domainDir })).rejects.toMatchObject({ kind: 'Conflict' });
    // A second name for the same directory would be formatted twice.
    await expect(storage.connect('posix1-again', { type: 'LocalFS', path: domainDir })).rejects.toMatchObject({ kind: 'Conflict' });
  });

  it('rejects bad names and paths before touching anything', async () => {
    for (const name of ['../x', 'UPPER', 'a/b', '', 'a'.repeat(64), '-x']) {
      await expect(storage.connect(name, { type: 'LocalFS', path: domainDir })).rejects.toMatchObject({ kind: 'InvalidSpec' });
    }
    for (const p of ['relative/dir', '/tmp/../etc', '/tmp/./x', '/tmp//x']) {
      await expect(storage.connect('bad', { type: 'LocalFS', path: p })).rejects.toMatchObject({ kind: 'InvalidSpec' });
    }
    await expect(storage.connect('bad', { type: 'PosixFS', path: domainDir, vfsType: 'ext4', mountOptions: 'rw;reboot' })).rejects.toMatchObject({
      kind: 'InvalidSpec',
    });
    await expect(storage.connect('missing', { type: 'LocalFS', path: path.join(base, 'nope') })).rejects.toMatchObject({ kind: 'NotFound' });
    expect((await storage.list()).map((s) => s.name)).toEqual(['posix1']);
  });

  it('formats the layout atomically and idempotently, and refuses another uuid', async () => {
    const md = await storage.format('posix1', { uuid, name: 'posix1', role: 'Data' });
    expect(md).toMatchObject({ uuid, name: 'posix1', role: 'Data', version: 1 });
    const onDisk = JSON.parse(await readFile(path.join(domainDir, uuid, 'dom_md', 'metadata'), 'utf8')) as unknown;
    expect(onDisk).toEqual(md);
    expect((await stat(path.join(domainDir, uuid, 'images'))).isDirectory()).toBe(true);
    // No temporary files left behind by the atomic write.
    expect(await readdir(path.join(domainDir, uuid, 'dom_md'))).toEqual(['metadata']);

    await expect(storage.format('posix1', { uuid, name: 'posix1', role: 'Data' })).resolves.toEqual(md);
    await expect(storage.format('posix1', { uuid: randomUUID(), name: 'posix1', role: 'Data' })).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(storage.format('posix1', { uuid, name: 'posix1', role: 'ISO' })).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(storage.format('posix1', { uuid: 'NOT-A-UUID', name: 'posix1', role: 'Data' })).rejects.toMatchObject({ kind: 'InvalidSpec' });
    expect((await readdir(domainDir)).sort()).toEqual([uuid]);

    const st = await storage.status('posix1');
    expect(st.metadata).toEqual(md);
    expect(st.health).toMatchObject({ ok: true });
    expect(st.health?.readLatencyMs).toBeGreaterThanOrEqual(0);
    expect(st.health?.writeLatencyMs).toBeGreaterThanOrEqual(0);
    // The write probe really wrote.
    expect(await readFile(path.join(domainDir, uuid, 'dom_md', 'probe'), 'utf8')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('creates, grows and deletes thin qcow2 and raw volumes, as qemu-img itself sees them', async () => {
    const vol = await storage.createVolume('posix1', 'disk1', 100 * MiB);
    expect(vol).toMatchObject({ name: 'disk1', domain: 'posix1', format: 'qcow2', virtualSizeBytes: 100 * MiB });
    expect(vol.path).toBe(path.join(domainDir, uuid, 'images', 'disk1.qcow2'));
    let info = await qemuImgInfo(vol.path);
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(100 * MiB);
    // Thin: far less on disk than the virtual size.
    expect(info['actual-size']).toBeLessThan(5 * MiB);
    expect(vol.actualSizeBytes).toBe(info['actual-size']);
    expect((await stat(vol.path)).mode & 0o777).toBe(0o600);

    await expect(storage.createVolume('posix1', 'disk1', 10 * MiB)).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(storage.createVolume('posix1', 'disk1', 10 * MiB, 'raw')).rejects.toMatchObject({ kind: 'Conflict' });
    expect((await qemuImgInfo(vol.path))['virtual-size']).toBe(100 * MiB);

    const grown = await storage.resizeVolume('posix1', 'disk1', 200 * MiB);
    expect(grown.virtualSizeBytes).toBe(200 * MiB);
    expect((await qemuImgInfo(vol.path))['virtual-size']).toBe(200 * MiB);
    await expect(storage.resizeVolume('posix1', 'disk1', 50 * MiB)).rejects.toMatchObject({ kind: 'InvalidSpec' });
    expect((await qemuImgInfo(vol.path))['virtual-size']).toBe(200 * MiB);
    await expect(storage.resizeVolume('posix1', 'disk1', 200 * MiB + 1)).rejects.toMatchObject({ kind: 'InvalidSpec' });

    const raw = await storage.createVolume('posix1', 'scratch', 64 * MiB, 'raw');
    expect(raw).toMatchObject({ format: 'raw', virtualSizeBytes: 64 * MiB });
    expect((await qemuImgInfo(raw.path)).format).toBe('raw');
    expect((await stat(raw.path)).blocks * 512).toBeLessThan(MiB);

    expect((await storage.listVolumes('posix1')).map((v) => [v.name, v.format])).toEqual([
      ['disk1', 'qcow2'],
      ['scratch', 'raw'],
    ]);
    expect(await storage.getVolume('posix1', 'disk1')).toMatchObject({ virtualSizeBytes: 200 * MiB });

    await storage.deleteVolume('posix1', 'scratch');
    expect(existsSync(raw.path)).toBe(false);
    expect(await storage.getVolume('posix1', 'scratch')).toBeUndefined();
    await expect(storage.deleteVolume('posix1', 'scratch')).rejects.toMatchObject({ kind: 'NotFound' });
    await expect(storage.getVolume('nope', 'disk1')).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('never reaches outside the domain: ../ names, absolute paths and symlink escapes are refused', async () => {
    for (const v of ['../disk', '..', 'a/b', 'Disk', 'x.qcow2']) {
      await expect(storage.createVolume('posix1', v, MiB)).rejects.toMatchObject({ kind: 'InvalidSpec' });
      await expect(storage.getVolume('posix1', v)).rejects.toMatchObject({ kind: 'InvalidSpec' });
      await expect(storage.deleteVolume('posix1', v)).rejects.toMatchObject({ kind: 'InvalidSpec' });
    }
    expect(existsSync(path.join(domainDir, uuid, 'disk.qcow2'))).toBe(false);

    // resolveFile: fine inside, refused for traversal and symlinks out.
    await writeFile(path.join(domainDir, 'vmlinuz'), 'kernel');
    expect(await storage.resolveFile('posix1', 'vmlinuz')).toBe(path.join(domainDir, 'vmlinuz'));
    expect(await storage.resolveFile('posix1', `${uuid}/dom_md/metadata`)).toBe(path.join(domainDir, uuid, 'dom_md', 'metadata'));
    for (const rel of ['../outside/secret', `${uuid}/../../outside/secret`, '/etc/passwd', path.join(outside, 'secret')]) {
      await expect(storage.resolveFile('posix1', rel)).rejects.toMatchObject({ kind: 'InvalidSpec' });
    }
    await expect(storage.resolveFile('posix1', 'no-such-file')).rejects.toMatchObject({ kind: 'NotFound' });
    await symlink(path.join(outside, 'secret'), path.join(domainDir, 'escape'));
    await expect(storage.resolveFile('posix1', 'escape')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await symlink(outside, path.join(domainDir, 'escape-dir'));
    await expect(storage.resolveFile('posix1', 'escape-dir/secret')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    // A symlink inside that stays inside is fine.
    await symlink('vmlinuz', path.join(domainDir, 'vmlinuz-current'));
    expect(await storage.resolveFile('posix1', 'vmlinuz-current')).toBe(path.join(domainDir, 'vmlinuz'));

    // A volume file replaced by a symlink to a file outside is neither read nor deleted.
    await symlink(path.join(outside, 'secret'), path.join(domainDir, uuid, 'images', 'evil.qcow2'));
    await expect(storage.getVolume('posix1', 'evil')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(storage.deleteVolume('posix1', 'evil')).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(storage.createVolume('posix1', 'evil', MiB)).rejects.toMatchObject({ kind: 'InvalidSpec' });
    expect((await storage.listVolumes('posix1')).map((v) => v.name)).toEqual(['disk1']);
    expect(await readFile(path.join(outside, 'secret'), 'utf8')).toBe('not yours');
  });

  it('keeps connected domains across a new manager instance (agent restart)', async () => {
    const registry = JSON.parse(await readFile(path.join(stateDir, REGISTRY_FILE), 'utf8')) as { domains: { name: string }[] };
    expect(registry.domains.map((d) => d.name)).toEqual(['posix1']);
    expect((await stat(path.join(stateDir, REGISTRY_FILE))).mode & 0o777).toBe(0o600);

    const again = new FileStorageManager({ stateDir });
    const st = await again.status('posix1');
    expect(st).toMatchObject({ connected: true, metadata: { uuid, name: 'posix1' }, health: { ok: true } });
    expect((await again.listVolumes('posix1')).map((v) => v.name)).toEqual(['disk1']);

    await again.disconnect('posix1');
    await again.disconnect('posix1');
    expect(await new FileStorageManager({ stateDir }).list()).toEqual([]);
    await expect(again.status('posix1')).rejects.toMatchObject({ kind: 'NotFound' });
    // Disconnecting leaves the data alone.
    expect(existsSync(path.join(domainDir, uuid, 'images', 'disk1.qcow2'))).toBe(true);
  });

  it('reports NFS as Unavailable where the kernel has no NFS', async () => {
    const filesystems = await readFile('/proc/filesystems', 'utf8');
    const hasNfs = /\snfs$/m.test(filesystems);
    const r = storage.connect('nfs1', { type: 'NFS', server: '127.0.0.1', path: '/export/none' });
    if (hasNfs) {
      // With NFS in the kernel this must at least fail on the missing server, not on the kernel.
      await expect(r).rejects.not.toMatchObject({ message: expect.stringContaining('not supported by this kernel') });
    } else {
      const err = await r.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect(err).toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('NFS not supported by this kernel') });
    }
    expect((await storage.list()).map((s) => s.name)).not.toContain('nfs1');
  });

  it('verifies the file system type of a mounted PosixFS domain', async () => {
    const mp = path.join(base, 'tmpfs1');
    await mkdir(mp);
    const notMounted = new FileStorageManager({ stateDir: path.join(base, 'agent2'), mount: false });
    await expect(notMounted.connect('tmpfs1', { type: 'PosixFS', path: mp, vfsType: 'tmpfs' })).rejects.toMatchObject({ kind: 'Unavailable' });

    await runChecked(['mount', '-t', 'tmpfs', '-o', 'size=64m', 'drover-test', mp]);
    tmpfsMounts.push(mp);
    const st = await notMounted.connect('tmpfs1', { type: 'PosixFS', path: mp, vfsType: 'tmpfs' });
    expect(st.connected).toBe(true);
    expect(st.capacity?.totalBytes).toBe(64 * MiB);
    await expect(notMounted.connect('ext', { type: 'PosixFS', path: mp, vfsType: 'ext4' })).rejects.toMatchObject({ kind: 'Conflict' });
    await notMounted.format('tmpfs1', { uuid: randomUUID(), name: 'tmpfs1', role: 'ISO' });
    expect((await notMounted.status('tmpfs1')).health?.ok).toBe(true);
    // Not mounted by the agent, so disconnect leaves the mount alone.
    await notMounted.disconnect('tmpfs1');
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${mp} `)).toBe(true);
  });
});
