/**
 * The self-hosted engine on real test hosts (issue 6): two nodes, each with
 * its libvirtd, virtlockd and a `drover agent --hosted-engine` (the real HA
 * role, no operator: it works without the Manager), the hosted-engine
 * storage domain on the shared directory, libvirt's lockd lease in the
 * shared lockspace. The Manager VM is the tiny guest serving /healthz on
 * the management network. Deployed with `drover hosted-engine deploy` run
 * on the first node as an admin would; every claim is checked against virsh
 * on every host, the health URL from outside, and the invariant checker
 * (never two instances) watching throughout each fault.
 *
 * Default timings except the bad-health timeout (15 s instead of 30 s, to
 * keep the file short). Prefix `hen`, subnet 10.247.101.0/24.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { consolePtyPath, openPty } from '../../src/agent/console/index.js';
import type { HostedEngineStatus } from '../../src/api/agent/hosted-engine.js';
import { ENGINE_DOMAIN_NAME } from '../../src/agent/hosted-engine/config.js';
import { stopDevHosts } from '../../src/dev/hosts.js';
import { deployTestbedEngine, engineHealthy, engineRunningOn, hostedEngineOnNode, testbedEngineAddress } from '../../src/dev/hosted-engine.js';
import { hostExec, killHost, powerOn, run, type TestbedHost } from '../../src/dev/testbed/index.js';
import { rawRequest, startAgentHosts, stopAgentHosts, virsh, type AgentHosts } from '../support/agent-hosts.js';
import { repoRoot, stateDir } from '../support/env.js';
import { watchInvariant, type SeenViolation } from '../support/invariant.js';
import { waitUntil } from '../support/wait.js';

const SUBNET = '10.247.101.0/24';
const PREFIX = 'hen';
const ENGINE = ENGINE_DOMAIN_NAME;
const HE_DIR = join(stateDir(), PREFIX, 'shared', 'hosted-engine');
const BAD_HEALTH_TIMEOUT = '15s';

let hosts: AgentHosts;
let healthURL: string;

const cli = join(repoRoot(), 'dist', 'cli', 'main.js');
const node = (i: number): TestbedHost => hosts.testbed.hosts[i]!;
const agentStateDir = (h: TestbedHost): string => join(h.runDir, 'agent');

/** `drover hosted-engine ...` inside a test host, as an admin on that node runs it. */
const heOnNode = (h: TestbedHost, args: string[]) => hostedEngineOnNode(repoRoot(), h, args);

/** `drover hosted-engine status -o json` from the shared metadata alone (run outside every node). */
async function cliStatus(): Promise<HostedEngineStatus> {
  const r = await run([process.execPath, cli, 'hosted-engine', 'status', '-o', 'json', '--storage', HE_DIR], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as HostedEngineStatus;
}

const healthy = (): Promise<boolean> => engineHealthy(healthURL);
const runningOn = (): Promise<string[]> => engineRunningOn(hosts.testbed.hosts);

/** Waits until the Manager answers and exactly one host runs it; returns that host. */
async function engineUpSomewhere(timeoutMs = 120_000): Promise<string> {
  return waitUntil('the Manager VM healthy on exactly one host', timeoutMs, async () => {
    if (!(await healthy())) return undefined;
    const on = await runningOn();
    return on.length === 1 ? on[0] : undefined;
  }, 500);
}

/** A test's starting point: every node on (a failed test may have left one off), the Manager healthy on one. */
async function steady(): Promise<string> {
  for (const h of hosts.testbed.hosts) await powerOn(hosts.testbed, h.name);
  return engineUpSomewhere();
}

/** Waits until the CLI status shows `host` running a healthy engine and every node live. */
async function statusSettled(host: string, timeoutMs = 60_000): Promise<HostedEngineStatus> {
  return waitUntil(`status: Up on ${host}, all nodes live`, timeoutMs, async () => {
    const s = await cliStatus();
    return s.engineHost === host && s.engineState === 'Up' && s.nodes.length === 2 && s.nodes.every((n) => n.live) ? s : undefined;
  }, 500);
}

/** The QEMU pid of the Manager VM on a host (libvirt's pid file), or undefined. */
async function qemuPid(h: TestbedHost): Promise<number | undefined> {
  const text = await readFile(join(h.runDir, 'run', 'qemu', `${ENGINE}.pid`), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number(text.trim());
}

const byName = (name: string): TestbedHost => hosts.testbed.hosts.find((h) => h.name === name)!;

function expectNoDoubleRun(violations: SeenViolation[]): void {
  expect(violations).toEqual([]);
}

beforeAll(async () => {
  // A fresh hosted-engine storage domain: the shared directory outlives runs.
  await stopDevHosts(join(stateDir(), PREFIX));
  await rm(join(HE_DIR, 'hosted-engine'), { recursive: true, force: true });
  hosts = await startAgentHosts(PREFIX, SUBNET, 2, [`--hosted-engine=${HE_DIR}`]);
  healthURL = testbedEngineAddress(hosts.testbed).healthURL;
  await deployTestbedEngine(repoRoot(), hosts.testbed, HE_DIR, node(0), [`--bad-health-timeout=${BAD_HEALTH_TIMEOUT}`]);
});

afterAll(async () => {
  await stopAgentHosts(hosts);
});

describe('self-hosted engine (real HA role on real libvirt, lockd lease, shared metadata)', () => {
  it('deploy runs the Manager VM on the first node; the CLI status (shared metadata alone) and the agents\' API match virsh on every host', async () => {
    const host = await steady();
    expect(host).toBe(node(0).name);
    await statusSettled(host);
    // The other node may still be in EngineStart for a cycle (its own start refused by the lease) before it stands by.
    const status = await waitUntil('the other node standing by', 60_000, async () => {
      const s = await cliStatus();
      return s.engineHost === host && s.nodes.every((n) => n.live) && s.nodes.find((n) => n.name !== host)?.state === 'EngineDownElsewhere' ? s : undefined;
    }, 500);
    expect(await runningOn()).toEqual([status.engineHost]);
    const me = status.nodes.find((n) => n.name === host)!;
    const other = status.nodes.find((n) => n.name !== host)!;
    expect(me).toMatchObject({ state: 'EngineUp', engineRunning: true, engineHealth: 'good', localMaintenance: false });
    expect(other).toMatchObject({ state: 'EngineDownElsewhere', engineRunning: false });
    for (const n of status.nodes) expect(n.score).toBeGreaterThan(0);
    expect(status.globalMaintenance).toBe(false);
    // Not a Drover VM: no ownership record, so the agents' VM service lists it as foreign and never touches it.
    const xml = await virsh(hosts, 0, ['dumpxml', ENGINE]);
    expect(xml).toContain('https://drover.io/xmlns/hosted-engine/v1alpha1');
    expect(xml).not.toContain('https://drover.io/xmlns/domain/v1alpha1');
    // Its whole-VM lease in the shared lockspace, keyed by the configuration's UUID.
    const uuid = (JSON.parse(await readFile(join(HE_DIR, 'hosted-engine', 'config.json'), 'utf8')) as { vm: { uuid: string } }).vm.uuid;
    expect(xml).toContain(`<key>${uuid}</key>`);
    // The lease is what keeps it single: the same domain started by hand on the other node is refused by libvirt.
    const inactive = await virsh(hosts, 0, ['dumpxml', '--inactive', ENGINE]);
    const xmlFile = join(hosts.testbed.hosts[1]!.runDir, 'engine.xml');
    await writeFile(xmlFile, inactive);
    const otherIndex = 1;
    await virsh(hosts, otherIndex, ['define', xmlFile]);
    try {
      const refused = await run(['virsh', '-c', node(otherIndex).libvirtUri, 'start', ENGINE], { timeoutMs: 60_000 });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`Lockspace resource '${uuid}' is locked`);
    } finally {
      await run(['virsh', '-c', node(otherIndex).libvirtUri, 'undefine', ENGINE], { timeoutMs: 30_000 });
    }
    expect(await runningOn()).toEqual([host]);
    // Either agent's API answers the same from the same metadata.
    for (const a of hosts.agents) {
      const res = await rawRequest(a.ip, a.port, 'GET', '/v1/hosted-engine', undefined, hosts.tls);
      expect(res.status).toBe(200);
      const api = JSON.parse(res.body) as HostedEngineStatus;
      expect(api).toMatchObject({ engineHost: host, engineState: 'Up', globalMaintenance: false, storagePath: HE_DIR });
      expect(api.nodes.map((n) => [n.name, n.live])).toEqual([[node(0).name, true], [node(1).name, true]]);
    }
    // Deploying again refuses, changing nothing.
    const again = await heOnNode(node(1), ['deploy', `--storage=${HE_DIR}`, `--node=${node(1).name}`, `--health-url=${healthURL}`, '--gateway=10.247.101.1', '--kernel=/bin/true']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already deployed');
    expect(await runningOn()).toEqual([host]);
  });

  it('a maintenance request with an unknown field is refused 400 and changes nothing', async () => {
    const a = hosts.agents[1]!;
    const res = await rawRequest(a.ip, a.port, 'PUT', '/v1/hosted-engine/maintenance', JSON.stringify({ global: true, everything: 'off' }), hosts.tls);
    expect(res.status).toBe(400);
    expect((await cliStatus()).globalMaintenance).toBe(false);
  });

  it('killing the node that runs it: the other node starts it after the host-alive timeout, never two instances; the node comes back as a standby', async () => {
    const from = await steady();
    const to = hosts.testbed.hosts.find((h) => h.name !== from)!.name;
    const watch = watchInvariant(hosts.testbed);
    try {
      await killHost(hosts.testbed, from);
      const now = await engineUpSomewhere(120_000);
      expect(now).toBe(to);
      // The status follows within a metadata interval or two: Up on the survivor, the dead node not live.
      const s = await waitUntil('the dead node shown not live, the VM Up on the survivor', 30_000, async () => {
        const st = await cliStatus();
        return st.engineHost === to && st.engineState === 'Up' && st.nodes.find((n) => n.name === from)?.live === false ? st : undefined;
      }, 500);
      expect(s.nodes.find((n) => n.name === to)).toMatchObject({ state: 'EngineUp', live: true });
    } finally {
      expectNoDoubleRun(await watch.stop());
      await powerOn(hosts.testbed, from);
    }
    // Powered back on: the agent started again with its recorded flags (the HA role included) and stays a standby.
    await statusSettled(to, 90_000);
    // Initializing for two metadata intervals first, then it sees the VM running on the other node.
    const back = await waitUntil(`${from} a standby again`, 30_000, async () => {
      const st = await cliStatus();
      return st.nodes.find((n) => n.name === from)?.state === 'EngineDownElsewhere' ? st : undefined;
    }, 500);
    expect(back.nodes.find((n) => n.name === from)).toMatchObject({ live: true, engineRunning: false });
    expect(back.engineHost).toBe(to);
    expect(await runningOn()).toEqual([to]);
  });

  it('its health endpoint failing while it runs (httpd answers 404): stopped after the bad-health timeout and started again, healthy, never twice', async () => {
    const host = await steady();
    const h = byName(host);
    const pidBefore = await qemuPid(h);
    expect(pidBefore).toBeDefined();
    const watch = watchInvariant(hosts.testbed);
    try {
      // A real fault inside the guest, typed on its serial console: the health page disappears.
      const pty = consolePtyPath(await virsh(hosts, h.index - 1, ['dumpxml', ENGINE]));
      expect(pty).toBeDefined();
      const serial = openPty(pty!);
      try {
        serial.write(Buffer.from('\nrm -f /www/healthz\n'));
        await waitUntil('the health URL failing', 20_000, async () => !(await healthy()), 250);
      } finally {
        serial.close();
      }
      const bad = await waitUntil('the running node reporting bad health', 30_000, async () => {
        const s = await cliStatus();
        return s.engineState === 'BadHealth' ? s : undefined;
      }, 500);
      expect(bad.nodes.find((n) => n.name === host)?.state).toBe('EngineUpBadHealth');
      // Restarted: a new QEMU (on the best node, which may be the same one), serving /healthz again.
      const after = await waitUntil('a new healthy instance', 120_000, async () => {
        if (!(await healthy())) return undefined;
        const on = await runningOn();
        if (on.length !== 1) return undefined;
        const pid = await qemuPid(byName(on[0]!));
        return on[0] !== host || (pid !== undefined && pid !== pidBefore) ? on[0] : undefined;
      }, 500);
      const s = await statusSettled(after);
      const best = [...s.nodes].filter((n) => n.live).sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1))[0]!;
      console.log(`bad health on ${host} → restarted on ${after}; scores now ${s.nodes.map((n) => `${n.name}=${n.score}`).join(', ')} (best ${best.name})`);
      // No node is so much better that the HA role would move it: it landed on a best-scored node.
      for (const n of s.nodes) expect(n.score - s.nodes.find((m) => m.name === after)!.score).toBeLessThan(800);
    } finally {
      expectNoDoubleRun(await watch.stop());
    }
  });

  it('global maintenance (set through an agent\'s API): the VM killed stays down; maintenance off (CLI on a node) → it comes back', async () => {
    const host = await steady();
    const a = hosts.agents[1]!;
    const res = await rawRequest(a.ip, a.port, 'PUT', '/v1/hosted-engine/maintenance', JSON.stringify({ global: true }), hosts.tls);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as HostedEngineStatus).globalMaintenance).toBe(true);
    await waitUntil('both nodes in GlobalMaintenance', 20_000, async () => {
      const s = await cliStatus();
      return s.globalMaintenance && s.nodes.every((n) => n.state === 'GlobalMaintenance');
    }, 500);
    const watch = watchInvariant(hosts.testbed);
    try {
      const pid = await qemuPid(byName(host));
      process.kill(pid!, 'SIGKILL');
      await waitUntil('the Manager VM gone', 30_000, async () => (await runningOn()).length === 0, 250);
      // Longer than a node would otherwise need to restart it (unexpected-down hold 10 s + host-alive 10 s + a start).
      for (let i = 0; i < 30; i++) {
        expect(await runningOn()).toEqual([]);
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(await healthy()).toBe(false);
      const off = await heOnNode(node(0), ['set-maintenance', '--mode=none', `--state-dir=${agentStateDir(node(0))}`]);
      expect(off.code).toBe(0);
      const back = await engineUpSomewhere(120_000);
      await statusSettled(back);
      expect((await cliStatus()).globalMaintenance).toBe(false);
    } finally {
      expectNoDoubleRun(await watch.stop());
    }
  });

  it('local maintenance on the node running it (CLI on that node, no flags but its agent\'s state dir): the VM migrates away live; the node scores 0', async () => {
    const from = await steady();
    const to = hosts.testbed.hosts.find((h) => h.name !== from)!.name;
    const watch = watchInvariant(hosts.testbed);
    try {
      const r = await heOnNode(byName(from), ['set-maintenance', '--mode=local', `--state-dir=${agentStateDir(byName(from))}`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`local maintenance on for ${from}`);
      await waitUntil(`the Manager VM running on ${to}`, 120_000, async () => {
        const on = await runningOn();
        return on.length === 1 && on[0] === to && (await healthy());
      }, 500);
      const s = await waitUntil('status after the migration', 30_000, async () => {
        const st = await cliStatus();
        return st.engineHost === to && st.nodes.find((n) => n.name === from)?.state === 'LocalMaintenance' ? st : undefined;
      }, 500);
      expect(s.nodes.find((n) => n.name === from)).toMatchObject({ score: 0, localMaintenance: true, engineRunning: false });
    } finally {
      expectNoDoubleRun(await watch.stop());
      await heOnNode(byName(from), ['set-maintenance', '--mode=none', `--state-dir=${agentStateDir(byName(from))}`]);
    }
    await waitUntil('local maintenance off', 20_000, async () => (await cliStatus()).nodes.every((n) => !n.localMaintenance && n.score > 0), 500);
    expect(await runningOn()).toEqual([to]);
  });

  it('the running node\'s score dropping far below the other\'s (its gateway unreachable: -1600): the VM migrates away live, never twice', async () => {
    const from = await steady();
    const to = hosts.testbed.hosts.find((h) => h.name !== from)!.name;
    const gateway = hosts.testbed.subnet.gateway;
    const route = ['ip', 'route', 'add', 'blackhole', `${gateway}/32`];
    const watch = watchInvariant(hosts.testbed);
    try {
      // A real fault on that node only: its packets to the gateway are dropped (the nodes and the guest talk directly).
      await hostExec(byName(from), route);
      // The CPU-load penalty is graded and read at different moments on each node, so wait for the gap itself.
      const dropped = await waitUntil(`${from}'s gateway penalty, ${to} 800 points ahead`, 30_000, async () => {
        const st = await cliStatus();
        const n = st.nodes.find((x) => x.name === from);
        const o = st.nodes.find((x) => x.name === to);
        if (n?.penalties?.['gateway'] !== 1600 || o === undefined) return undefined;
        return o.score - n.score >= 800 || st.engineHost === to ? st : undefined;
      }, 250);
      expect(dropped.nodes.find((n) => n.name === from)?.penalties?.['gateway']).toBe(1600);
      await waitUntil(`the Manager VM running on ${to}`, 120_000, async () => {
        const on = await runningOn();
        return on.length === 1 && on[0] === to && (await healthy());
      }, 500);
      await statusSettled(to);
      // The source's own report follows at its next metadata write.
      const s = await waitUntil(`${from} reporting the VM gone`, 30_000, async () => {
        const st = await cliStatus();
        return st.nodes.find((n) => n.name === from)?.engineRunning === false ? st : undefined;
      }, 500);
      expect(s.nodes.find((n) => n.name === from)).toMatchObject({ engineRunning: false, live: true });
      expect(s.engineHost).toBe(to);
    } finally {
      await hostExec(byName(from), ['ip', 'route', 'del', 'blackhole', `${gateway}/32`], { check: false });
      expectNoDoubleRun(await watch.stop());
    }
    // The penalty goes with the fault; the VM does not come back (no gap the other way).
    await waitUntil(`${from}'s score back`, 30_000, async () => (await cliStatus()).nodes.every((n) => !n.penalties?.['gateway']), 500);
    expect(await runningOn()).toEqual([to]);
  });

  it('full power loss of every node, then all powered on: exactly one node starts the Manager VM', async () => {
    await steady();
    const watch = watchInvariant(hosts.testbed);
    try {
      for (const h of hosts.testbed.hosts) await killHost(hosts.testbed, h.name);
      expect(await runningOn()).toEqual([]);
      await Promise.all(hosts.testbed.hosts.map((h) => powerOn(hosts.testbed, h.name)));
      const host = await engineUpSomewhere(180_000);
      const s = await statusSettled(host, 60_000);
      expect(s.nodes.filter((n) => n.engineRunning)).toHaveLength(1);
      // Steady: still one, on the same node, a while later.
      await new Promise((r) => setTimeout(r, 10_000));
      expect(await runningOn()).toEqual([host]);
    } finally {
      expectNoDoubleRun(await watch.stop());
    }
  });
});
