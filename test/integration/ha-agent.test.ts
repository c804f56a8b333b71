/**
 * The host agent's side of VM high availability on real test hosts (two
 * network + mount namespaces, each with its own libvirtd and virtlockd, one
 * shared directory as storage, libvirt's lockd lock manager with its
 * lockspace on it): lease capabilities, lease conflicts answered 409
 * LeaseHeld with nothing left running, the lease freed by a kill -9 of
 * QEMU, leases observed in the kernel's lock table, storage heartbeats read
 * from either host, and a host's storage cut in its own mount namespace.
 * Everything the agent claims is checked independently (virsh, files,
 * /proc/locks).
 *
 * Prefix `hag`, subnet 10.247.95.0/24.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentClient } from '../../src/agent/client/index.js';
import type { VmSpecInput } from '../../src/api/agent/index.js';
import { splitDev } from '../../src/agent/leases/index.js';
import { hostExec } from '../../src/dev/testbed/index.js';
import { eventually } from '../support/env.js';
import { domainNames, startAgentHosts, stopAgentHosts, virsh, type AgentHosts } from '../support/agent-hosts.js';

const SUBNET = '10.247.95.0/24';
const DATA_UUID = '95a1c0de-0000-4000-8000-000000000095';
let hosts: AgentHosts;
let a1: AgentClient;
let a2: AgentClient;

beforeAll(async () => {
  hosts = await startAgentHosts('hag', SUBNET, 2, ['--storage-heartbeat-interval=1s']);
  [a1, a2] = hosts.clients as [AgentClient, AgentClient];
  for (const client of [a1, a2]) {
    await client.connectStorageDomain('images', { type: 'PosixFS', path: join(hosts.sharedDir, 'images') });
    await client.connectStorageDomain('data', { type: 'PosixFS', path: join(hosts.sharedDir, 'data') });
  }
  await a1.formatStorageDomain('data', { uuid: DATA_UUID, role: 'Data' });
});

afterAll(async () => {
  await stopAgentHosts(hosts);
});

/** A kernel-boot-only guest (TCG, no NIC: nothing here needs its network). */
function guestSpec(name: string, disks: VmSpecInput['disks'] = []): VmSpecInput {
  return {
    name: `hag_${name}`,
    owner: { namespace: 'hag', name },
    generation: 1,
    cpu: { cores: 1 },
    memoryMiB: 128,
    acceleration: 'tcg',
    boot: { domain: 'images', kernel: 'guest/vmlinuz', initrd: 'guest/initrd.img', cmdline: 'console=ttyS0' },
    disks,
    nics: [],
    onLockFailure: 'poweroff',
  };
}

async function domstate(index: number, name: string): Promise<string> {
  return (await virsh(hosts, index, ['domstate', '--reason', name])).trim();
}

/** kill -9 of a domain's QEMU on test host `index`, as a crash would. */
async function killQemu(index: number, name: string): Promise<void> {
  const pid = Number((await readFile(join(hosts.testbed.hosts[index]!.runDir, 'run', 'qemu', `${name}.pid`), 'utf8')).trim());
  process.kill(pid, 'SIGKILL');
}

/** Whether some process holds a POSIX lock on `file` (virtlockd's leases), per the kernel. */
async function posixLocked(file: string): Promise<boolean> {
  const st = await stat(file, { bigint: true });
  const { major, minor } = splitDev(st.dev);
  const key = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  return (await readFile('/proc/locks', 'utf8')).split('\n').some((l) => / POSIX /.test(l) && !l.includes('->') && l.includes(` ${key} `));
}

async function cleanup(uid: string): Promise<void> {
  for (const client of [a1, a2]) {
    await client.destroyVm(uid).catch(() => undefined);
    await client.undefineVm(uid).catch(() => undefined);
  }
}

describe('HA on the host agent (real libvirt, lockd, shared storage)', () => {
  it('reports lockd and the shared lockspace in capabilities, as the test bed configured each host', async () => {
    expect(hosts.testbed.lockspaceDir).toBeDefined();
    for (const client of [a1, a2]) {
      expect((await client.capabilities()).leases).toEqual({ manager: 'lockd', lockspace: hosts.testbed.lockspaceDir });
    }
  });

  it('refuses to start a disk VM on host 2 while host 1 runs it: 409 LeaseHeld, nothing left running; after kill -9 of QEMU on host 1 host 2 starts it', async () => {
    await a1.createVolume('data', 'ha-disk', { sizeBytes: 2 ** 26, format: 'qcow2' });
    const uid = randomUUID();
    const spec = guestSpec('disk', [{ name: 'data', domain: 'data', volume: 'ha-disk' }]);
    try {
      await a1.defineVm(uid, spec);
      const running = await a1.startVm(uid);
      expect(running.state).toBe('running');
      expect(running.leaseProtected).toBe(true);
      expect(await posixLocked(join(hosts.testbed.lockspaceDir!, uid))).toBe(true);

      await a2.defineVm(uid, spec);
      const refused = await a2.startVm(uid).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toMatchObject({ status: 409, reason: 'LeaseHeld' });
      console.log(`lease conflict (disk VM) answered: ${(refused as Error).message}`);
      // Host 2 is left as it was: the domain stays defined, shut off, no QEMU; host 1 still runs it.
      expect(await domstate(1, spec.name)).toMatch(/^shut off/);
      expect(existsSync(join(hosts.testbed.hosts[1]!.runDir, 'run', 'qemu', `${spec.name}.pid`))).toBe(false);
      expect(await domainNames(hosts, 1)).toContain(spec.name);
      expect((await a2.getVm(uid)).leaseProtected).toBe(false);
      expect(await domstate(0, spec.name)).toBe('running (booted)');
      expect((await a1.getVm(uid)).leaseProtected).toBe(true);

      await killQemu(0, spec.name);
      await eventually(async () => (await a1.getVm(uid)).state === 'shut off', 30_000, 100);
      const moved = await a2.startVm(uid);
      expect(moved.state).toBe('running');
      expect(moved.leaseProtected).toBe(true);
      expect(await domstate(1, spec.name)).toBe('running (booted)');
      // Host 1 cannot take it back now.
      await expect(a1.startVm(uid)).rejects.toMatchObject({ status: 409, reason: 'LeaseHeld' });
      expect(await domstate(0, spec.name)).toMatch(/^shut off/);
    } finally {
      await cleanup(uid);
      await a1.deleteVolume('data', 'ha-disk').catch(() => undefined);
    }
  });

  it('protects a VM without any disk by its own lease: lockd refuses host 2, kill -9 frees it, pause releases it, and it survives a live migration', async () => {
    const uid = randomUUID();
    const spec = guestSpec('nodisk');
    const leaseFile = join(hosts.testbed.lockspaceDir!, uid);
    try {
      const defined = await a1.defineVm(uid, spec);
      expect(defined.disks).toEqual([]);
      expect(existsSync(leaseFile)).toBe(true);
      expect(await virsh(hosts, 0, ['dumpxml', spec.name])).toContain(`<key>${uid}</key>`);
      expect((await a1.startVm(uid)).leaseProtected).toBe(true);
      expect(await posixLocked(leaseFile)).toBe(true);

      await a2.defineVm(uid, spec);
      const refused = await a2.startVm(uid).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toMatchObject({ status: 409, reason: 'LeaseHeld' });
      expect((refused as Error).message).toContain(`Lockspace resource '${uid}' is locked`);
      expect(await domstate(1, spec.name)).toMatch(/^shut off/);

      // libvirt releases leases while a domain is paused; the agent says so.
      expect((await a1.pauseVm(uid)).leaseProtected).toBe(false);
      expect(await posixLocked(leaseFile)).toBe(false);
      expect((await a1.resumeVm(uid)).leaseProtected).toBe(true);

      // The lease moves with a live migration (released on the source, taken on the destination).
      await a1.migrateVm(uid, { destinationURI: hosts.testbed.hosts[1]!.libvirtUri });
      const done = await eventually(async () => {
        const m = await a1.getMigration(uid);
        return m.state !== 'running' ? m : undefined;
      }, 120_000, 200);
      expect(done.state).toBe('succeeded');
      const migrated = await a2.getVm(uid);
      expect(migrated.state).toBe('running');
      expect(migrated.leaseProtected).toBe(true);
      expect(await posixLocked(leaseFile)).toBe(true);

      await killQemu(1, spec.name);
      await eventually(async () => (await a2.getVm(uid)).state === 'shut off', 30_000, 100);
      await a1.defineVm(uid, spec);
      const back = await a1.startVm(uid);
      expect(back.state).toBe('running');
      expect(back.leaseProtected).toBe(true);
    } finally {
      await cleanup(uid);
    }
  });

  it('shows both hosts\' storage heartbeats from either host, with small ages and a growing seq', async () => {
    const seen = async (client: AgentClient) => (await client.storageHeartbeats('data')).items;
    for (const client of [a1, a2]) {
      const items = await eventually(async () => {
        const list = await seen(client);
        return list.length === 2 ? list : undefined;
      }, 15_000, 250);
      expect(items.map((i) => i.host)).toEqual(['hag-1', 'hag-2']);
      for (const i of items) expect(i.ageSeconds).toBeLessThan(3);
    }
    const before = (await seen(a2)).find((i) => i.host === 'hag-1')!.seq;
    await new Promise((r) => setTimeout(r, 2500));
    expect((await seen(a2)).find((i) => i.host === 'hag-1')!.seq).toBeGreaterThan(before);
    // The file is on the shared storage, written by the host itself.
    const file = JSON.parse(await readFile(join(hosts.sharedDir, 'data', '.drover', 'heartbeats', 'hag-2.json'), 'utf8'));
    expect(file).toMatchObject({ host: 'hag-2' });
    expect((await a2.getStorageDomain('data')).heartbeat).toMatchObject({ ok: true });
  });

  it("a host whose storage is cut (in its mount namespace) reports its heartbeat failed, and the other host sees that heartbeat age", async () => {
    const host2 = hosts.testbed.hosts[1]!;
    const dataDir = join(hosts.sharedDir, 'data');
    // A read-only empty file system over the domain, in host 2's mount namespace only.
    await hostExec(host2, ['mount', '-t', 'tmpfs', '-o', 'ro,size=1m', 'hag-cut', dataDir]);
    try {
      const failed = await eventually(async () => {
        const s = await a2.getStorageDomain('data');
        return s.heartbeat?.ok === false ? s : undefined;
      }, 15_000, 250);
      expect(failed.health?.ok).toBe(false);
      expect(failed.health?.error).toMatch(/storage heartbeat failed/);
      const aged = await eventually(async () => {
        const h2 = (await a1.storageHeartbeats('data')).items.find((i) => i.host === 'hag-2');
        return h2 !== undefined && h2.ageSeconds >= 3 ? h2 : undefined;
      }, 20_000, 500);
      expect(aged.ageSeconds).toBeGreaterThanOrEqual(3);
      // Host 1's own heartbeat is unaffected.
      expect((await a1.storageHeartbeats('data')).items.find((i) => i.host === 'hag-1')!.ageSeconds).toBeLessThan(3);
    } finally {
      await hostExec(host2, ['umount', dataDir]);
    }
    await eventually(async () => (await a2.getStorageDomain('data')).heartbeat?.ok === true, 15_000, 250);
    await eventually(async () => {
      const h2 = (await a1.storageHeartbeats('data')).items.find((i) => i.host === 'hag-2');
      return h2 !== undefined && h2.ageSeconds < 2;
    }, 15_000, 250);
  });
});
