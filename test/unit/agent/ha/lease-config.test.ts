/** Reading the host's lease settings from libvirt's configuration files (temp directories, real files). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { libvirtConfigFiles } from '../../../../src/dev/testbed/config.js';
import { parseLibvirtConf, readLeaseConfig } from '../../../../src/agent/leases/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-lease-conf-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(content: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(content)) await writeFile(path.join(dir, name), text);
}

describe('parseLibvirtConf', () => {
  it('reads quoted strings, integers and comments, and skips lists (also multi-line ones)', () => {
    const conf = parseLibvirtConf(
      [
        '# lock_manager = "sanlock"',
        'lock_manager = "lockd"   # trailing comment',
        "file_lockspace_dir = '/srv/a # not a comment'",
        'auto_disk_leases=0',
        'cgroup_controllers = [ "cpu",',
        '   "memory" ]',
        'require_lease_for_disks = 1',
        'garbage line',
      ].join('\n'),
    );
    expect(Object.fromEntries(conf)).toEqual({
      lock_manager: 'lockd',
      file_lockspace_dir: '/srv/a # not a comment',
      auto_disk_leases: 0,
      require_lease_for_disks: 1,
    });
  });
});

describe('readLeaseConfig', () => {
  it('reads what the test bed writes: lockd with its lockspace on shared storage', async () => {
    await files(libvirtConfigFiles({ name: 'h', ip: '10.0.0.1', hostUuid: 'u', lockspaceDir: '/srv/shared/lockspace' }));
    expect(await readLeaseConfig(dir)).toEqual({ manager: 'lockd', lockspace: '/srv/shared/lockspace', autoDiskLeases: true });
  });

  it('says none for a test bed without lockd, and for a host without any config', async () => {
    await files(libvirtConfigFiles({ name: 'h', ip: '10.0.0.1', hostUuid: 'u' }));
    expect(await readLeaseConfig(dir)).toEqual({ manager: 'none', autoDiskLeases: false });
    expect(await readLeaseConfig(path.join(dir, 'absent'))).toEqual({ manager: 'none', autoDiskLeases: false });
  });

  it("applies libvirt's lockd defaults: automatic disk leases on, no lockspace (disks locked directly)", async () => {
    await files({ 'qemu.conf': 'lock_manager = "lockd"\n' });
    expect(await readLeaseConfig(dir)).toEqual({ manager: 'lockd', autoDiskLeases: true });
  });

  it('reads sanlock (disk_lease_dir only when it leases disks automatically)', async () => {
    await files({ 'qemu.conf': 'lock_manager = "sanlock"\n', 'qemu-sanlock.conf': 'auto_disk_leases = 1\n' });
    expect(await readLeaseConfig(dir)).toEqual({ manager: 'sanlock', autoDiskLeases: true, lockspace: '/var/lib/libvirt/sanlock' });
  });

  it('lets --lease-manager override the manager while still reading its settings', async () => {
    await files({ 'qemu.conf': 'lock_manager = "lockd"\n', 'qemu-lockd.conf': 'file_lockspace_dir = "/srv/ls"\nauto_disk_leases = 0\n' });
    expect(await readLeaseConfig(dir, 'none')).toEqual({ manager: 'none', autoDiskLeases: false });
    await files({ 'qemu.conf': '' });
    expect(await readLeaseConfig(dir, 'lockd')).toEqual({ manager: 'lockd', lockspace: '/srv/ls', autoDiskLeases: false });
  });
});
