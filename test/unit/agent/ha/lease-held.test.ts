/**
 * Whether a VM holds a lease, from the kernel's lock table: parsing
 * /proc/locks, the lease files lockd uses, and the per-VM lease element.
 * Node cannot take a POSIX (fcntl) lock itself, so here the inspector reads
 * a lock table written by the test that names real files' device and
 * inode; the integration test (ha-agent.test.ts) checks it against
 * virtlockd's real locks.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LeaseInspector,
  ensureLeaseFile,
  leaseFiles,
  parseProcLocks,
  splitDev,
  vmLease,
  vmLeaseProvider,
  withLeaseState,
  type LeaseConfig,
} from '../../../../src/agent/leases/index.js';

const UID = '22222222-2222-4333-8444-555555555555';
// Captured on the test bed: virtlockd's lease lock (POSIX) and QEMU's image locks (OFD).
const PROC_LOCKS = `19: POSIX  ADVISORY  WRITE 14619 fe:00:5375041 0 0
20: OFDLCK ADVISORY  READ -1 fe:00:5375031 203 203
21: -> POSIX  ADVISORY  WRITE 14620 fe:00:5375041 0 0
3: FLOCK  ADVISORY  WRITE 14766 fe:00:5374445 0 EOF
`;

describe('parseProcLocks', () => {
  it('reads kind, mode, device and inode, and skips waiters', () => {
    expect(parseProcLocks(PROC_LOCKS)).toEqual([
      { kind: 'POSIX', mode: 'WRITE', major: 0xfe, minor: 0, inode: 5375041n },
      { kind: 'OFDLCK', mode: 'READ', major: 0xfe, minor: 0, inode: 5375031n },
      { kind: 'FLOCK', mode: 'WRITE', major: 0xfe, minor: 0, inode: 5374445n },
    ]);
  });
});

describe('splitDev', () => {
  it("decodes glibc's makedev encoding (small and large numbers)", () => {
    expect(splitDev(0xfe00n)).toEqual({ major: 0xfe, minor: 0 });
    expect(splitDev(0x803n)).toEqual({ major: 8, minor: 3 });
    // major 0x1234, minor 0x56789: bits spread over the high and low words.
    const dev = ((0x1234n & 0xfffff000n) << 32n) | ((0x1234n & 0xfffn) << 8n) | ((0x56789n & 0xffffff00n) << 12n) | (0x56789n & 0xffn);
    expect(splitDev(dev)).toEqual({ major: 0x1234, minor: 0x56789 });
  });
});

describe('vmLease', () => {
  const lockd: LeaseConfig = { manager: 'lockd', lockspace: '/srv/shared/lockspace', autoDiskLeases: true };

  it('puts the lease in lockd\'s registered lockspace: target = parent, lockspace = last component', () => {
    expect(vmLease(lockd, UID)).toEqual({
      lockspace: 'lockspace',
      key: UID,
      targetPath: '/srv/shared',
      file: `/srv/shared/lockspace/${UID}`,
    });
  });

  it.each([
    ['no lock manager', { manager: 'none', autoDiskLeases: false }],
    ['sanlock', { manager: 'sanlock', lockspace: '/var/lib/libvirt/sanlock', autoDiskLeases: true }],
    ['lockd without a lockspace directory', { manager: 'lockd', autoDiskLeases: true }],
    ['a lockspace spelled with a trailing slash', { manager: 'lockd', lockspace: '/srv/ls/', autoDiskLeases: true }],
    ['a lockspace spelled with ..', { manager: 'lockd', lockspace: '/srv/x/../ls', autoDiskLeases: true }],
    ['a lockspace directly under /', { manager: 'lockd', lockspace: '/ls', autoDiskLeases: true }],
  ] as [string, LeaseConfig][])('gives none under %s', (_why, config) => {
    expect(vmLease(config, UID)).toBeUndefined();
  });

  it('gives none for something that is not a UID (it becomes a file name)', () => {
    expect(vmLease(lockd, '../../etc/passwd')).toBeUndefined();
  });
});

describe('leaseFiles', () => {
  const disks = [
    { path: '/srv/data/images/a.qcow2', readOnly: false },
    { path: '/srv/iso/installer.iso', readOnly: true },
  ];
  const sha = (p: string) => createHash('sha256').update(p).digest('hex');

  it('lists the VM lease and the automatic lease of each writable disk (sha256 of its path), not read-only disks', () => {
    const config: LeaseConfig = { manager: 'lockd', lockspace: '/srv/shared/lockspace', autoDiskLeases: true };
    expect(leaseFiles(config, { uid: UID, disks })).toEqual([
      `/srv/shared/lockspace/${UID}`,
      `/srv/shared/lockspace/${sha('/srv/data/images/a.qcow2')}`,
    ]);
  });

  it('locks the disk itself when lockd has no lockspace directory', () => {
    expect(leaseFiles({ manager: 'lockd', autoDiskLeases: true }, { uid: UID, disks })).toEqual(['/srv/data/images/a.qcow2']);
  });

  it('matches the file name lockd created on the test bed for a disk path', () => {
    // lockspace listing captured next to the lock table above.
    expect(sha('/work/wt-ha-agent/.drover/explore/tb/shared/data/d1.qcow2')).toBe('156ae7e3d948b959462017d541e9cd78f6ff261019ef0316cbe54dd6bfef543c');
  });
});

describe('LeaseInspector and withLeaseState', () => {
  let dir: string;
  let lockspace: string;
  let locksFile: string;
  let config: LeaseConfig;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'drover-lease-held-'));
    lockspace = path.join(dir, 'lockspace');
    await mkdir(lockspace);
    locksFile = path.join(dir, 'locks');
    config = { manager: 'lockd', lockspace, autoDiskLeases: true };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function lockLine(file: string, kind = 'POSIX'): Promise<string> {
    const st = await stat(file, { bigint: true });
    const { major, minor } = splitDev(st.dev);
    return `1: ${kind}  ADVISORY  WRITE 999 ${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino} 0 0\n`;
  }

  it('says protected only when the VM lease file is POSIX-locked and the VM is active', async () => {
    const lease = vmLease(config, UID)!;
    await ensureLeaseFile(lease);
    const running = { uid: UID, state: 'running', disks: [] };
    const inspector = new LeaseInspector(config, { procLocksPath: locksFile });

    await writeFile(locksFile, '');
    expect((await withLeaseState(inspector, [running]))[0]!.leaseProtected).toBe(false);

    await writeFile(locksFile, await lockLine(lease.file, 'OFDLCK'));
    expect((await withLeaseState(inspector, [running]))[0]!.leaseProtected).toBe(false);

    await writeFile(locksFile, await lockLine(lease.file));
    const [on, paused, off] = await withLeaseState(inspector, [running, { ...running, state: 'paused' }, { ...running, state: 'shut off' }]);
    expect([on!.leaseProtected, paused!.leaseProtected, off!.leaseProtected]).toEqual([true, false, false]);
  });

  it('counts a locked automatic disk lease too', async () => {
    const disk = '/srv/data/images/a.qcow2';
    const diskLease = path.join(lockspace, createHash('sha256').update(disk).digest('hex'));
    await writeFile(diskLease, '');
    await writeFile(locksFile, await lockLine(diskLease));
    const inspector = new LeaseInspector(config, { procLocksPath: locksFile });
    const [vm] = await withLeaseState(inspector, [{ uid: UID, state: 'running', disks: [{ path: disk, readOnly: false }] }]);
    expect(vm!.leaseProtected).toBe(true);
  });

  it('never claims protection when the lock table cannot be read, or under a manager it cannot observe', async () => {
    const lease = vmLease(config, UID)!;
    await ensureLeaseFile(lease);
    const unreadable = new LeaseInspector(config, { procLocksPath: path.join(dir, 'absent') });
    expect((await withLeaseState(unreadable, [{ uid: UID, state: 'running' }]))[0]!.leaseProtected).toBe(false);
    await writeFile(locksFile, await lockLine(lease.file));
    const sanlock = new LeaseInspector({ ...config, manager: 'sanlock' }, { procLocksPath: locksFile });
    expect((await withLeaseState(sanlock, [{ uid: UID, state: 'running' }]))[0]!.leaseProtected).toBe(false);
  });

  it('creates the lease file once and never replaces it (its inode is what other hosts lock)', async () => {
    const provide = vmLeaseProvider(config, { warn: () => {} });
    expect(await provide(UID)).toEqual({ lockspace: 'lockspace', key: UID, targetPath: dir });
    const first = await stat(path.join(lockspace, UID));
    expect(first.mode & 0o777).toBe(0o600);
    await provide(UID);
    expect((await stat(path.join(lockspace, UID))).ino).toBe(first.ino);
  });

  it('defines without the lease (and says why) when the lockspace is missing', async () => {
    const warnings: string[] = [];
    const provide = vmLeaseProvider({ ...config, lockspace: path.join(dir, 'missing') }, { warn: (_o, m) => warnings.push(m) });
    expect(await provide(UID)).toBeUndefined();
    expect(warnings).toHaveLength(1);
  });
});
