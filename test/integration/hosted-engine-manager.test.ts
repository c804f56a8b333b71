/**
 * The self-hosted Manager as the operator sees it, on real parts: the
 * operator process against a real kube-apiserver, two test hosts whose
 * agents enrolled with bootstrap tokens and also run the hosted-engine HA
 * role (`--hosted-engine`), and the tiny guest deployed as the Manager VM
 * with `drover hosted-engine deploy`. The operator never starts or stops
 * the Manager VM; it reports the shared HA metadata in
 * `Manager.status.hostedEngine` and sets `spec.selfHosted.maintenance`.
 * Prefix `hem`, subnet 10.247.103.0/24.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { deployTestbedEngine, engineHealthy, engineRunningOn, hostedEngineOnNode, testbedEngineAddress } from '../../src/dev/hosted-engine.js';
import { guestAddress, parseSubnet, run } from '../../src/dev/testbed/index.js';
import { conditionOf, startE2E, type E2E, type LooseObject } from '../support/e2e.js';
import { repoRoot, stateDir } from '../support/env.js';
import { waitUntil } from '../support/wait.js';

const NAME = 'hem';
const SUBNET = '10.247.103.0/24';
const HE_DIR = join(stateDir(), NAME, 'shared', 'hosted-engine');
/** Where the test bed's Manager VM answers (testbedEngineAddress: guest address 50). */
const HEALTH_URL = `http://${guestAddress(parseSubnet(SUBNET), 50)}/healthz`;
let env: E2E;
let healthURL: string;

const cli = join(repoRoot(), 'dist', 'cli', 'main.js');
const manager = () => env.get('manager', env.manager) as Promise<LooseObject | undefined>;

async function cliStatus(): Promise<LooseObject> {
  const r = await run([process.execPath, cli, 'hosted-engine', 'status', '-o', 'json', '--storage', HE_DIR], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as LooseObject;
}

async function setMaintenance(mode: 'None' | 'Global' | 'Local', localMaintenanceHosts?: string[]): Promise<void> {
  const patch = { spec: { selfHosted: { maintenance: mode, localMaintenanceHosts: localMaintenanceHosts ?? null } } };
  await env.kubectl(['patch', 'manager', env.manager, '--type=merge', '-p', JSON.stringify(patch)]);
}

beforeAll(async () => {
  env = await startE2E({
    name: NAME,
    subnet: SUBNET,
    sharedSubdirs: ['hosted-engine'],
    agentArgs: [`--hosted-engine=${HE_DIR}`],
    hostSpec: () => ({ selfHostedEngineNode: true }),
    managerSpec: {
      mode: 'SelfHosted',
      selfHosted: {
        storageDomain: 'hosted-engine',
        hostSelector: {},
        vm: { memory: '128Mi', kernel: 'images/guest/vmlinuz', initrd: 'images/guest/initrd.img' },
        healthURL: HEALTH_URL,
      },
    },
    waitHostsUp: true,
  });
  healthURL = testbedEngineAddress(env.testbed).healthURL;
  expect(healthURL).toBe(HEALTH_URL);
  // As an admin on the first node would, under the name its agent enrolled with.
  await deployTestbedEngine(repoRoot(), env.testbed, HE_DIR, env.hosts[0]!.testbedHost, [], env.hosts[0]!.name);
});

afterAll(async () => {
  await env?.stop();
});

describe('a SelfHosted Manager (operator + agents with the HA role, real libvirt)', () => {
  it('reports where the Manager VM runs and every node, as the shared metadata and virsh say; Ready and HostedEngineHighlyAvailable True', async () => {
    const m = await env.waitFor('manager', env.manager, (o: LooseObject) => conditionOf(o, 'Ready')?.status === 'True', 180_000) as LooseObject;
    const he = m.status.hostedEngine;
    const on = await engineRunningOn(env.testbed.hosts);
    expect(on).toHaveLength(1);
    const hostName = env.hosts.find((h) => h.testbedHost.name === on[0])!.name;
    expect(he.host).toBe(hostName);
    expect(he.state).toBe('Up');
    expect(he.maintenance).toBe('None');
    expect(he.nodes.map((n: LooseObject) => n.name)).toEqual(env.hosts.map((h) => h.name));
    const shared = await cliStatus();
    for (const n of he.nodes) {
      const s = shared.nodes.find((x: LooseObject) => x.name === n.name);
      expect(s).toBeDefined();
      expect(n.live).toBe(true);
      expect(n.score).toBeGreaterThan(0);
    }
    expect(conditionOf(m, 'HostedEngineHighlyAvailable')).toMatchObject({ status: 'True' });
    expect(conditionOf(m, 'HostedEngineMaintenanceApplied')).toMatchObject({ status: 'True' });
    expect(await engineHealthy(healthURL)).toBe(true);
    // The operator does not mistake the Manager VM for one of its VirtualMachines.
    const vms = await env.kubectl(['get', 'virtualmachines', '-o', 'name']);
    expect(vms.stdout.trim()).toBe('');
    // The printer columns show it.
    const wide = await env.kubectl(['get', 'manager', env.manager, '-o', 'wide']);
    expect(wide.stdout).toContain(hostName);
  });

  it('global maintenance set on the Manager reaches every node: killing the VM is not answered; None brings it back', async () => {
    await setMaintenance('Global');
    // The switch first, then each node's state at its next cycle.
    const shared = await waitUntil('global maintenance in the shared metadata, every node in GlobalMaintenance', 30_000, async () => {
      const s = await cliStatus();
      return s.globalMaintenance === true && s.nodes.every((n: LooseObject) => n.state === 'GlobalMaintenance') ? s : undefined;
    }, 500);
    expect(shared.nodes).toHaveLength(2);
    const m = await env.waitFor('manager', env.manager, (o: LooseObject) => o.status?.hostedEngine?.maintenance === 'Global' && conditionOf(o, 'HostedEngineMaintenanceApplied')?.status === 'True', 30_000) as LooseObject;
    expect(conditionOf(m, 'HostedEngineHighlyAvailable')).toMatchObject({ status: 'False', reason: 'GlobalMaintenance' });

    // The VM dies (QEMU killed on its node): nobody restarts it while in global maintenance.
    const [on] = await engineRunningOn(env.testbed.hosts);
    const index = env.testbed.hosts.findIndex((h) => h.name === on);
    await env.virsh(index, ['destroy', 'drover-hosted-engine']);
    await new Promise((r) => setTimeout(r, 15_000));
    expect(await engineRunningOn(env.testbed.hosts)).toEqual([]);
    const down = await env.waitFor('manager', env.manager, (o: LooseObject) => conditionOf(o, 'Ready')?.status === 'False', 30_000) as LooseObject;
    expect(conditionOf(down, 'Ready')).toMatchObject({ reason: 'HostedEngineUnavailable' });

    await setMaintenance('None');
    await waitUntil('the Manager VM healthy again', 120_000, async () => (await engineHealthy(healthURL)) || undefined, 500);
    expect(await engineRunningOn(env.testbed.hosts)).toHaveLength(1);
    await env.waitFor('manager', env.manager, (o: LooseObject) => conditionOf(o, 'Ready')?.status === 'True' && o.status?.hostedEngine?.maintenance === 'None', 60_000);
  });

  it('local maintenance on the node running it, set on the Manager: the VM migrates to the other node', async () => {
    const [on] = await engineRunningOn(env.testbed.hosts);
    const from = env.hosts.find((h) => h.testbedHost.name === on)!;
    const to = env.hosts.find((h) => h !== from)!;
    await setMaintenance('Local', [from.name]);
    await waitUntil(`the Manager VM on ${to.name}`, 120_000, async () => {
      const now = await engineRunningOn(env.testbed.hosts);
      return now.length === 1 && now[0] === to.testbedHost.name ? true : undefined;
    }, 500);
    expect(await engineHealthy(healthURL)).toBe(true);
    const m = await env.waitFor('manager', env.manager, (o: LooseObject) => o.status?.hostedEngine?.host === to.name && o.status?.hostedEngine?.maintenance === 'Local', 60_000) as LooseObject;
    expect(m.status.hostedEngine.nodes.find((n: LooseObject) => n.name === from.name)).toMatchObject({ score: 0 });
    // The CLI on the node sees the same.
    const r = await hostedEngineOnNode(repoRoot(), from.testbedHost, ['status', '-o', 'json', `--storage=${HE_DIR}`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).nodes.find((n: LooseObject) => n.name === from.name).localMaintenance).toBe(true);
    await setMaintenance('None');
    await waitUntil('local maintenance lifted', 30_000, async () => {
      const s = await cliStatus();
      return s.nodes.every((n: LooseObject) => !n.localMaintenance) || undefined;
    }, 500);
  });
});
