/**
 * The simulated driver (scale benchmarks only) against the same contract
 * suite the libvirt driver passes on real test hosts, at latency scale 0;
 * then what is the simulator's own: latencies, the ACPI-deaf booting guest,
 * the fabric (migration destinations, disk locks, a host dying).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import { buildDomainXml, type DomainSpec } from '../../../src/hypervisor/domainxml/index.js';
import { DriverError } from '../../../src/hypervisor/driver.js';
import { DEVICE_STATE_BYTES, MEASURED_LIBVIRT_LATENCIES, SimulatedDriver, SimulatedFabric, scaleLatencies } from '../../../src/hypervisor/simulated/index.js';
import { describeDriverContract, type HostIndex } from '../../support/driver-contract.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-sim-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MIB = 1024 * 1024;
let n = 0;
/** A firmware-only guest (the simulator boots nothing; memory is what migrations copy). */
function guest(opts: { disks?: DomainSpec['disks']; machine?: string } = {}): DomainSpec {
  n += 1;
  const name = `sim-${n}-${randomBytes(3).toString('hex')}`;
  return {
    uid: randomUUID(),
    name,
    owner: { namespace: 'sim', name },
    hypervisor: 'qemu',
    ...(opts.machine ? { machine: opts.machine } : {}),
    cpu: { cores: 1, mode: 'host-model' },
    memoryMiB: 256,
    disks: opts.disks ?? [],
    interfaces: [{ name: 'eth0', bridge: 'br0', mac: `52:54:00:${(randomBytes(3).toString('hex').match(/../g) ?? []).join(':')}`, model: 'virtio' }],
  };
}

function twoHosts(scale = 0): [SimulatedDriver, SimulatedDriver, SimulatedFabric<SimulatedDriver>] {
  const fabric = new SimulatedFabric<SimulatedDriver>();
  const h1 = new SimulatedDriver({ uri: `sim://h1-${randomUUID()}/system`, fabric, latencyScale: scale });
  const h2 = new SimulatedDriver({ uri: `sim://h2-${randomUUID()}/system`, fabric, latencyScale: scale });
  return [h1, h2, fabric];
}

describe('SimulatedDriver', () => {
  const [h1, h2] = twoHosts();
  const drivers = [h1, h2] as const;
  const timings: Record<string, number> = {};

  afterAll(() => console.log(`simulated driver timings (ms, scale 0): ${JSON.stringify(timings)}`));

  // The simulator has no outside to look from: list() is the second path into its table.
  const info = async (host: HostIndex, uuid: string) => (await drivers[host].list()).find((d) => d.uuid === uuid);

  describeDriverContract('simulated', () => ({
    drivers,
    uris: [h1.uri, h2.uri],
    unreachableURI: 'sim://nobody-here/system',
    guest,
    uuids: async (host) => (await drivers[host].list()).map((d) => d.uuid).sort(),
    state: async (host, uuid) => {
      const d = await info(host, uuid);
      return d === undefined ? undefined : `${d.state} (${d.reason ?? 'unknown'})`;
    },
    guestUp: async () => undefined,
    killEmulator: async (host, spec) => {
      drivers[host].crash(spec.uid);
      return performance.now();
    },
    sharedDisk: async (name) => {
      const file = path.join(dir, `${name}.qcow2`);
      await writeFile(file, '');
      return { path: file, remove: () => rm(file) };
    },
    missingDiskPath: () => path.join(dir, 'no-such-disk.qcow2'),
    eventsSettleMs: 0,
    timings,
  }));
});

describe('SimulatedDriver, its own behaviour', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('makes each verb take its measured latency, times the scale', async () => {
    jest.useFakeTimers();
    const [h1] = twoHosts(0.5);
    const spec = guest();
    let done = false;
    const defining = h1.define(buildDomainXml(spec)).then(() => (done = true));
    await jest.advanceTimersByTimeAsync(MEASURED_LIBVIRT_LATENCIES.define * 0.5 - 1);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await defining;
    expect(done).toBe(true);
    expect(scaleLatencies(MEASURED_LIBVIRT_LATENCIES, 2).start).toBe(MEASURED_LIBVIRT_LATENCIES.start * 2);
    expect(() => scaleLatencies(MEASURED_LIBVIRT_LATENCIES, -1)).toThrow(RangeError);
  });

  it('lets a guest that is still booting ignore ACPI, as a real one does', async () => {
    jest.useFakeTimers();
    const fabric = new SimulatedFabric<SimulatedDriver>();
    // Real time, but only the guest takes any.
    const latencies = { ...scaleLatencies(MEASURED_LIBVIRT_LATENCIES, 0), guestBoot: 1000, guestShutdown: 100 };
    const h = new SimulatedDriver({ uri: 'sim://boot/system', fabric, latencyScale: 1, latencies });
    const spec = guest();
    await h.define(buildDomainXml(spec));
    await h.start(spec.uid);
    await h.shutdown(spec.uid);
    await jest.advanceTimersByTimeAsync(500);
    expect((await h.get(spec.uid))?.state).toBe('running');
    await jest.advanceTimersByTimeAsync(600);
    await h.shutdown(spec.uid);
    await jest.advanceTimersByTimeAsync(100);
    expect(await h.get(spec.uid)).toMatchObject({ state: 'shut off', reason: 'shutdown' });
  });

  it('keeps the domain XML exactly as defined; a redefinition is the inactive XML and applies at the next start', async () => {
    const [h, peer] = twoHosts();
    const spec = guest();
    const xml = buildDomainXml(spec);
    await h.define(xml);
    expect((await h.get(spec.uid))?.xml).toBe(xml);
    await h.start(spec.uid);
    const changed = buildDomainXml({ ...spec, memoryMiB: 512 });
    await h.define(changed);
    expect(await h.get(spec.uid)).toMatchObject({ state: 'running', xml: changed });
    // The running guest keeps its memory (what a migration copies) until it is started again.
    const copied = async (): Promise<number | undefined> => {
      const migrating = h.migrate(spec.uid, { destinationURI: peer.uri, bandwidthMiBps: 1 });
      const total = (await h.jobInfo(spec.uid)).dataTotalBytes;
      await h.abortJob(spec.uid);
      await expect(migrating).rejects.toBeInstanceOf(DriverError);
      return total;
    };
    expect(await copied()).toBe(256 * MIB + DEVICE_STATE_BYTES);
    await h.destroy(spec.uid);
    await h.start(spec.uid);
    expect(await copied()).toBe(512 * MIB + DEVICE_STATE_BYTES);
    // Another UUID under a taken name, or a new name for a UUID: refused.
    await expect(h.define(buildDomainXml({ ...guest(), name: spec.name }))).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(h.define(buildDomainXml({ ...spec, name: 'renamed' }))).rejects.toBeInstanceOf(DriverError);
  });

  it('refuses migrations to unknown hosts, to itself, and of domains that do not run', async () => {
    const [h1, h2] = twoHosts();
    const spec = guest();
    await h1.define(buildDomainXml(spec));
    await expect(h1.migrate(spec.uid, { destinationURI: h2.uri })).rejects.toMatchObject({ kind: 'Conflict' });
    await h1.start(spec.uid);
    await expect(h1.migrate(spec.uid, { destinationURI: 'sim://nowhere/system' })).rejects.toMatchObject({ kind: 'Unavailable' });
    await expect(h1.migrate(spec.uid, { destinationURI: h1.uri })).rejects.toMatchObject({ kind: 'Failed' });
    await expect(h1.migrate(spec.uid, { destinationURI: '--desturi' })).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(h1.abortJob(spec.uid)).rejects.toMatchObject({ kind: 'Conflict' });
    expect(await h1.jobInfo(spec.uid)).toEqual({ type: 'none' });
    // The same UUID running on the destination: the destination refuses.
    await h2.define(buildDomainXml(spec));
    await h2.start(spec.uid);
    await expect(h1.migrate(spec.uid, { destinationURI: h2.uri })).rejects.toMatchObject({ kind: 'Conflict' });
  });

  it('moves disk locks with a migration and releases them when a host powers off', async () => {
    const [h1, h2, fabric] = twoHosts();
    const disk = path.join(dir, `lock-${randomUUID()}.qcow2`);
    await writeFile(disk, '');
    const spec = guest({ disks: [{ name: 'root', path: disk, format: 'qcow2', bus: 'virtio' }] });
    await h1.define(buildDomainXml(spec));
    await h1.start(spec.uid);
    expect(fabric.holder(disk)).toEqual({ uri: h1.uri, uuid: spec.uid });
    await h1.migrate(spec.uid, { destinationURI: h2.uri });
    expect(fabric.holder(disk)).toEqual({ uri: h2.uri, uuid: spec.uid });
    expect(await h2.get(spec.uid)).toMatchObject({ state: 'running', reason: 'migrated' });

    // Host 2 dies: its guest is gone, the lock with it, and host 1 may run the disk again.
    h2.powerOff();
    expect(fabric.holder(disk)).toBeUndefined();
    await expect(h2.list()).rejects.toMatchObject({ kind: 'Unavailable' });
    await h1.define(buildDomainXml(spec));
    await h1.start(spec.uid);
    expect((await h1.get(spec.uid))?.state).toBe('running');
    expect(() => new SimulatedDriver({ uri: h1.uri, fabric })).toThrow(/already answers/);
  });

  it('holds a domain\'s <lease> fabric-wide while it runs, as virtlockd on a shared lockspace: refused elsewhere (LeaseHeld), free after a power-off', async () => {
    const [h1, h2, fabric] = twoHosts();
    // A diskless VM: only its lease protects it.
    const spec = { ...guest(), lease: { lockspace: 'lockspace', key: '', targetPath: dir } };
    spec.lease.key = spec.uid;
    const resource = `${dir}/lockspace/${spec.uid}`;
    await h1.define(buildDomainXml(spec));
    await h2.define(buildDomainXml(spec));
    await h1.start(spec.uid);
    expect(fabric.holder(resource)).toEqual({ uri: h1.uri, uuid: spec.uid });
    const refused = await h2.start(spec.uid).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ kind: 'LeaseHeld' });
    expect((refused as Error).message).toMatch(/Lockspace resource '[0-9a-f-]+' is locked/);
    expect((await h2.get(spec.uid))?.state).toBe('shut off');

    h1.powerOff();
    expect(fabric.holder(resource)).toBeUndefined();
    await h2.start(spec.uid);
    expect((await h2.get(spec.uid))?.state).toBe('running');
  });

  it('refuses kvm domains on a host without KVM', async () => {
    const fabric = new SimulatedFabric<SimulatedDriver>();
    const h = new SimulatedDriver({ uri: 'sim://tcg/system', fabric, latencyScale: 0, capabilities: { hypervisorType: 'qemu' } });
    await expect(h.define(buildDomainXml({ ...guest(), hypervisor: 'kvm' }))).rejects.toMatchObject({ kind: 'InvalidSpec' });
    expect(await h.list()).toEqual([]);
  });
});
