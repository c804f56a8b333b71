/**
 * The fault primitives, the test bed's fence agent and the invariant checker,
 * for real: two test hosts with their own faultfs storage path, a tiny
 * firmware guest whose boot sector reads its qcow2 disk in a loop (so a
 * storage cut reaches QEMU within a fraction of a second), and the
 * `drover` CLI run as the operator and an admin would run it.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import {
  cutLink,
  cutStorage,
  down,
  hostExec,
  hostProcesses,
  isAlive,
  killHost,
  powerOn,
  powerState,
  readState,
  restartAgent,
  restoreLink,
  restoreStorage,
  run,
  runChecked,
  startOnHost,
  storageState,
  up,
  type Testbed,
  type TestbedHost,
} from '../../src/dev/testbed/index.js';
import { repoRoot, stateDir } from '../support/env.js';
import { watchInvariant, type InvariantWatch } from '../support/invariant.js';
import { waitUntil } from '../support/wait.js';

const SUBNET = '10.247.96.0/24';
const PREFIX = 'flt';

/**
 * A boot sector that reads sector 2 of the boot disk through the BIOS
 * (int 13h) every 100 ms (int 15h, ah=86h), forever: real guest disk I/O
 * from a 16 MiB firmware-only VM.
 *
 *   xor ax,ax; mov es,ax
 *   l: mov ax,0x0201; mov cx,2; mov dx,0x80; mov bx,0x7e00; int 13h
 *      mov ah,0x86; mov cx,1; mov dx,0x86a0; int 15h; jmp l
 */
const READ_LOOP = Buffer.from('31C08EC0B80102B90200BA8000BB007ECD13B486B90100BAA086CD15EBE6', 'hex');

function bootDisk(): Buffer {
  const disk = Buffer.alloc(1024 * 1024);
  READ_LOOP.copy(disk, 0);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

/**
 * A TCG domain (SeaBIOS under this machine's nested KVM did not get past its
 * own start-up), optionally with one qcow2 disk. `error_policy='stop'` makes
 * QEMU pause the guest on a disk error (libvirt: paused, reason I/O error)
 * instead of passing the error to the guest.
 */
function domainXml(o: { name: string; uuid: string; disk?: string }): string {
  const disk = o.disk
    ? `<disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' error_policy='stop'/>
      <source file='${o.disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>`
    : '';
  return `<domain type='qemu'>
  <name>${o.name}</name>
  <uuid>${o.uuid}</uuid>
  <memory unit='MiB'>16</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${disk}
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

async function virsh(host: TestbedHost, args: string[]): Promise<string> {
  return (await runChecked(['virsh', '-c', host.libvirtUri, ...args], { timeoutMs: 60_000 })).stdout;
}

/** Defines a domain from XML on a host (through a file: virsh takes no XML on stdin). */
async function define(host: TestbedHost, xml: string, dir: string): Promise<void> {
  const file = path.join(dir, `${host.name}-${randomUUID()}.xml`);
  await writeFile(file, xml);
  await virsh(host, ['define', file]);
}

async function domstate(host: TestbedHost, name: string): Promise<string> {
  return (await virsh(host, ['domstate', '--reason', name])).trim();
}

/** Whether a TCP connection to ip:port opens within `timeoutMs` (from the root namespace, where the operator runs). */
function tcpReachable(ip: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: ip, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Processes of a host other than the invariant watch's own short probes
 * (`virsh` run inside the host every 250 ms).
 */
async function residents(host: TestbedHost): Promise<string[]> {
  return (await hostProcesses(host)).map((p) => p.comm).filter((c) => c !== 'virsh' && c !== 'nsenter');
}

/** Runs the built `drover` CLI. */
function drover(args: string[], input?: string) {
  return run([process.execPath, path.join(repoRoot(), 'dist', 'cli', 'main.js'), ...args], { ...(input !== undefined ? { input } : {}), timeoutMs: 120_000 });
}

describe('fault injection on the test bed', () => {
  const dir = path.join(stateDir(), 'faults');
  let tb: Testbed;
  let h1: TestbedHost;
  let h2: TestbedHost;
  let xmlDir: string;
  let diskPath: string;
  let watch: InvariantWatch | undefined;
  const vm = { name: 'flt-disk', uuid: randomUUID() };

  beforeAll(async () => {
    tb = await up({ stateDir: dir, namePrefix: PREFIX, subnet: SUBNET });
    [h1, h2] = tb.hosts as [TestbedHost, TestbedHost];
    // Files of an earlier run would make "was not written" checks pass by accident.
    for (const entry of await readdir(tb.sharedDir)) await rm(path.join(tb.sharedDir, entry), { recursive: true, force: true });
    xmlDir = path.join(dir, 'xml');
    await mkdir(xmlDir, { recursive: true });
    // The disk is made from the root namespace, on the real directory.
    const raw = path.join(dir, 'boot.raw');
    await writeFile(raw, bootDisk());
    diskPath = path.join(tb.sharedDir, 'flt-disk.qcow2');
    await runChecked(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, diskPath]);
    for (const h of [h1, h2]) await define(h, domainXml({ ...vm, disk: diskPath }), xmlDir);
  }, 600_000);

  afterAll(async () => {
    await watch?.stop();
    if (tb) await down(dir);
  }, 120_000);

  it("mounts each host's own faultfs over the shared directory, and keeps the lockspace outside it", async () => {
    for (const h of [h1, h2]) {
      const fstype = (await hostExec(h, ['findmnt', '-n', '-o', 'FSTYPE', '--mountpoint', tb.sharedDir])).stdout.trim();
      expect(fstype).toBe('fuse.faultfs');
      expect(tb.lockspaceDir).toBeDefined();
      const lockFs = (await hostExec(h, ['findmnt', '-n', '-o', 'FSTYPE', '-T', tb.lockspaceDir!])).stdout.trim();
      expect(lockFs).not.toMatch(/fuse/);
    }
    // The root namespace sees the real directory.
    const root = await run(['findmnt', '-n', '--mountpoint', tb.sharedDir]);
    expect(root.stdout.trim()).toBe('');
  });

  it('cutStorage fails I/O with EIO on that host only and pauses its running guest; restoreStorage passes again', async () => {
    watch = watchInvariant(tb);
    await virsh(h1, ['start', vm.name]);
    // The boot sector's read loop runs once the disk has been read a few times.
    await waitUntil('the guest reading its disk', 60_000, async () => {
      const stats = await virsh(h1, ['domblkstat', vm.name, 'vda']);
      return Number(/rd_req\s+(\d+)/.exec(stats)?.[1] ?? 0) > 5;
    });

    await cutStorage(tb, h1.name);
    expect(await storageState(tb, h1.name)).toBe('cut');
    const f1 = path.join(tb.sharedDir, 'written-by-1');
    const f2 = path.join(tb.sharedDir, 'written-by-2');
    const cut = await hostExec(h1, ['touch', f1], { check: false });
    expect(cut.code).not.toBe(0);
    expect(cut.stderr).toMatch(/Input\/output error/);
    const read = await hostExec(h1, ['stat', diskPath], { check: false });
    expect(read.stderr).toMatch(/Input\/output error/);
    // Host 2, and the real directory, are untouched.
    await hostExec(h2, ['touch', f2]);
    expect(existsSync(f2)).toBe(true);
    expect(existsSync(f1)).toBe(false);

    await waitUntil('the guest paused on an I/O error', 30_000, async () => (await domstate(h1, vm.name)).includes('I/O error'));
    expect(await domstate(h1, vm.name)).toBe('paused (I/O error)');

    await restoreStorage(tb, h1.name);
    expect(await storageState(tb, h1.name)).toBe('passthrough');
    await hostExec(h1, ['touch', f1]);
    expect(existsSync(f1)).toBe(true);
    await virsh(h1, ['resume', vm.name]);
    expect(await domstate(h1, vm.name)).toMatch(/^running/);
  });

  it('keeps lock conflicts between hosts real: the disk cannot be opened on host 2 while host 1 runs it', async () => {
    expect((await domstate(h1, vm.name)).startsWith('running')).toBe(true);
    const second = await run(['virsh', '-c', h2.libvirtUri, 'start', vm.name], { timeoutMs: 60_000 });
    expect(second.code).not.toBe(0);
    // virtlockd's lease, in the lockspace outside faultfs (QEMU's own image
    // locks are local to each host's faultfs mount).
    expect(second.stderr).toMatch(/resource busy|Lockspace resource .* is locked/i);
    expect(await readdir(tb.lockspaceDir!)).not.toHaveLength(0);
    expect(await domstate(h2, vm.name)).toMatch(/^shut off/);
  });

  it('cutLink makes the host unreachable from the root namespace while its storage and local libvirt keep working', async () => {
    expect(await tcpReachable(h1.ip, 16509)).toBe(true);
    await cutLink(tb, h1.name);
    try {
      expect(await tcpReachable(h1.ip, 16509)).toBe(false);
      await hostExec(h1, ['touch', path.join(tb.sharedDir, 'written-while-cut-off')]);
      expect(existsSync(path.join(tb.sharedDir, 'written-while-cut-off'))).toBe(true);
      const local = await hostExec(h1, ['virsh', '-c', 'qemu:///system', 'domstate', vm.name]);
      expect(local.stdout.trim()).toBe('running');
    } finally {
      await restoreLink(tb, h1.name);
    }
    await waitUntil('host 1 reachable again', 10_000, () => tcpReachable(h1.ip, 16509));
  });

  it('restartAgent restarts only the agent, with the same argv, while QEMU keeps running', async () => {
    // A stand-in agent: restartAgent is process management, whatever the program.
    const before = await startOnHost(h1, ['sleep', '3600'], path.join(h1.logDir, 'agent.log'), { role: 'agent' });
    const qemuBefore = (await hostProcesses(h1)).filter((p) => p.comm.startsWith('qemu')).map((p) => p.pid);
    expect(qemuBefore).toHaveLength(1);
    const after = await restartAgent(tb, h1.name);
    expect(after.pid).not.toBe(before.pid);
    expect(after.argv).toEqual(before.argv);
    expect(await isAlive(before.pid, before.startTime)).toBe(false);
    expect(await isAlive(after.pid, after.startTime)).toBe(true);
    const qemuAfter = (await hostProcesses(h1)).filter((p) => p.comm.startsWith('qemu')).map((p) => p.pid);
    expect(qemuAfter).toEqual(qemuBefore);
  });

  it('killHost leaves no process of the host and frees its leases; powerOn brings libvirtd and the agent back', async () => {
    expect(await powerState(tb, h1.name)).toBe('on');
    await killHost(tb, h1.name);
    expect(await residents(h1)).toEqual([]);
    expect(await powerState(tb, h1.name)).toBe('off');
    // Silence, as from a dead machine: the connection attempt times out.
    expect(await tcpReachable(h1.ip, 16509)).toBe(false);
    // The dead host's locks died with it: the VM starts on host 2.
    await virsh(h2, ['start', vm.name]);
    expect(await domstate(h2, vm.name)).toMatch(/^running/);

    await powerOn(tb, h1.name);
    expect(await powerState(tb, h1.name)).toBe('on');
    expect((await virsh(h1, ['uri'])).trim()).toBe(h1.libvirtUri);
    // A reboot: the persistent domain is still defined, and not running.
    expect(await domstate(h1, vm.name)).toMatch(/^shut off/);
    const state = await readState(dir);
    const agents = state!.processes.filter((p) => p.host === h1.name && p.role === 'agent');
    expect(await isAlive(agents.at(-1)!.pid, agents.at(-1)!.startTime)).toBe(true);
    await virsh(h2, ['destroy', vm.name]);
  });

  it('drover dev fence-testbed speaks the fence-agents protocol: status 0/2, off, on', async () => {
    const fence = (action: string) => drover(['dev', 'fence-testbed'], `action=${action}\nplug=${h2.name}\nstate_dir=${dir}\n`);
    let r = await fence('status');
    expect([r.code, r.stdout]).toEqual([0, 'Status: ON\n']);
    r = await fence('off');
    expect(r.code).toBe(0);
    expect(await residents(h2)).toEqual([]);
    r = await fence('status');
    expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);
    r = await fence('on');
    expect(r.code).toBe(0);
    r = await fence('status');
    expect(r.code).toBe(0);
    expect((await virsh(h2, ['uri'])).trim()).toBe(h2.libvirtUri);
    // No agent was ever started on host 2 through the test bed.
    r = await fence('restart-agent');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no agent/);
    r = await drover(['dev', 'fence-testbed'], `action=status\nplug=nosuchhost\nstate_dir=${dir}\n`);
    expect(r.code).toBe(1);
  });

  it('drover check and the invariant watch report a domain running on both hosts, and nothing otherwise', async () => {
    const seenSoFar = await watch!.stop();
    expect(watch!.samples).toBeGreaterThan(5);
    expect(seenSoFar).toEqual([]);
    let r = await drover(['check', '--testbed', dir]);
    expect(r.code).toBe(0);
    r = await drover(['check', '--uri', h1.libvirtUri, '--uri', h2.libvirtUri, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { violations: unknown[] }).violations).toEqual([]);

    // The same disk-less domain (same UUID) started on both hosts.
    watch = watchInvariant(tb);
    const twin = { name: 'flt-twin', uuid: randomUUID() };
    for (const h of [h1, h2]) {
      await define(h, domainXml(twin), xmlDir);
      await virsh(h, ['start', twin.name]);
    }
    r = await drover(['check', '--uri', h1.libvirtUri, '--uri', h2.libvirtUri, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { violations: { uuid: string; name: string; hosts: string[] }[] };
    expect(report.violations).toEqual([{ uuid: twin.uuid, name: twin.name, hosts: [h1.libvirtUri, h2.libvirtUri].sort(), instances: 2 }]);
    r = await drover(['check', '--testbed', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`VIOLATION: ${twin.name} ${twin.uuid} runs 2 times: ${h1.name}, ${h2.name}`);
    await waitUntil('the watch to see the double run', 10_000, async () => (watch!.samples > 2 ? true : undefined));
    const seen = await watch!.stop();
    watch = undefined;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((v) => v.uuid === twin.uuid && v.hosts.join() === [h1.name, h2.name].join())).toBe(true);
    for (const h of [h1, h2]) await virsh(h, ['destroy', twin.name]);
    await rm(path.join(dir, 'boot.raw'), { force: true });
  });
});
