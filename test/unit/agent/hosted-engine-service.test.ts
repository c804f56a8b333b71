/**
 * The hosted-engine service loop over a fake hypervisor whose "lease" is
 * shared by every node (a start fails with LeaseHeld while another node
 * runs the VM, as lockd does), on a temporary directory as the shared
 * storage, with short timings: one node starts the VM, the other stands by;
 * when the running node goes silent with its VM gone the other takes over;
 * a start refused by the lease backs off instead of looping.
 */
import { jest } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { HostedEngineService, HostedEngineStore, type HostedEngineConfig } from '../../../src/agent/hosted-engine/index.js';
import { DriverError, type DomainInfo, type HypervisorDriver } from '../../../src/hypervisor/driver.js';

const UUID = '0b0b0b0b-0000-4000-8000-0000000000aa';

/** Which node runs the VM, shared by every fake driver: the "lease". */
class Fabric {
  runningOn: string | undefined;
  starts: string[] = [];
}

function fakeDriver(fabric: Fabric, node: string): HypervisorDriver {
  const info = (): DomainInfo | undefined =>
    fabric.runningOn === node ? { uuid: UUID, name: 'drover-hosted-engine', state: 'running', persistent: true, xml: '' } : undefined;
  const unused = async (): Promise<never> => {
    throw new DriverError('Failed', 'not used here');
  };
  return {
    capabilities: unused,
    list: async () => [info()].filter((d): d is DomainInfo => d !== undefined),
    names: async () => [],
    get: async () => info(),
    define: async () => undefined,
    start: async () => {
      fabric.starts.push(node);
      if (fabric.runningOn !== undefined && fabric.runningOn !== node) throw new DriverError('LeaseHeld', `resource busy: Lockspace resource '${UUID}' is locked`);
      fabric.runningOn = node;
    },
    shutdown: unused,
    destroy: async () => {
      if (fabric.runningOn === node) fabric.runningOn = undefined;
    },
    suspend: unused,
    resume: unused,
    undefine: unused,
    migrate: unused,
    jobInfo: unused,
    abortJob: unused,
    events: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => undefined) }) }),
  };
}

const log = pino({ level: 'silent' });
let dir: string;
let health: Server;
let services: HostedEngineService[] = [];

function config(port: number): HostedEngineConfig {
  return {
    format: 1,
    version: 1,
    vm: { uuid: UUID, cores: 1, memoryMiB: 64, kernel: 'images/vmlinuz', bridge: 'lo', mac: '52:54:00:00:00:aa', acceleration: 'tcg' },
    healthURL: `http://127.0.0.1:${port}/healthz`,
    gateway: '127.0.0.1',
    migrationTransport: 'tcp',
    timings: { metadataIntervalMs: 200, hostAliveTimeoutMs: 1000, badHealthTimeoutMs: 2000, startTimeoutMs: 5000, healthCheckIntervalMs: 200, migrateScoreGap: 800, startRetryMs: 1000 },
    deployedBy: 'a',
    deployedAt: 'now',
  };
}

function service(fabric: Fabric, node: string): HostedEngineService {
  const s = new HostedEngineService({ domainDir: dir, node, driver: fakeDriver(fabric, node), leases: { manager: 'none', autoDiskLeases: false }, logger: log });
  services.push(s);
  s.start();
  return s;
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'drover-he-svc-'));
  health = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', () => r()));
  await new HostedEngineStore(dir).writeConfig(config((health.address() as AddressInfo).port));
});
afterEach(async () => {
  await Promise.all(services.map((s) => s.stop()));
  services = [];
  await new Promise((r) => health.close(r));
  await rm(dir, { recursive: true, force: true });
});

// Real timers (200 ms cycles): seconds per test, more on a loaded machine than jest's 5 s default allows.
jest.setTimeout(60_000);

describe('HostedEngineService', () => {
  it('one node starts the Manager VM and reports it Up; the other stands by', async () => {
    const fabric = new Fabric();
    const a = service(fabric, 'node-a');
    service(fabric, 'node-b');
    const s = await until('the VM up on one node', async () => {
      const st = await a.status();
      return st.engineState === 'Up' && st.nodes.length === 2 ? st : undefined;
    });
    expect(s.engineHost).toBe(fabric.runningOn);
    const other = s.nodes.find((n) => n.name !== fabric.runningOn)!;
    await until('the other node standing by', async () => ((await a.status()).nodes.find((n) => n.name === other.name)?.state === 'EngineDownElsewhere' ? true : undefined));
    expect(new Set(fabric.starts).size).toBe(1);
  });

  it('when the running node goes silent and its VM is gone, the other starts it after the host-alive timeout', async () => {
    const fabric = new Fabric();
    const a = service(fabric, 'node-a');
    const b = service(fabric, 'node-b');
    await until('the VM running', () => fabric.runningOn);
    const first = fabric.runningOn!;
    const [dying, survivor] = first === 'node-a' ? [a, b] : [b, a];
    await dying.stop();
    fabric.runningOn = undefined;
    await until('the VM running on the survivor', () => (fabric.runningOn !== undefined && fabric.runningOn !== first ? true : undefined));
    const st = await until('the status following', async () => {
      const s = await survivor.status();
      return s.engineState === 'Up' && s.nodes.find((n) => n.name === first)?.live === false ? s : undefined;
    });
    expect(st.engineHost).not.toBe(first);
  });

  it('a start refused by the lease (a silent node still runs the VM) backs off instead of looping', async () => {
    const fabric = new Fabric();
    fabric.runningOn = 'ghost';
    const b = service(fabric, 'node-b');
    await until('a first refused start', () => (fabric.starts.length > 0 ? true : undefined));
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2500));
    const attempts = fabric.starts.length;
    // One attempt per startRetry (1 s) at most, plus the one in flight: not one per 200 ms cycle.
    expect(attempts).toBeLessThanOrEqual(Math.ceil((Date.now() - startedAt) / 1000) + 2);
    expect(fabric.runningOn).toBe('ghost');
    const st = await b.status();
    expect(['EngineDown', 'EngineStart']).toContain(st.nodes.find((n) => n.name === 'node-b')?.state);
  });
});
