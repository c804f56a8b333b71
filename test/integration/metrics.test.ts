/**
 * /metrics of real operator processes (deploy/ ServiceAccount, real API
 * server): the leader exports the environment as its caches hold it, with the
 * phases the reconcilers wrote; a standby exports none of it (so alerts see
 * one series per object); heartbeats of a real enrolled agent are timed.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/dev/controlplane.js';
import { run } from '../../src/dev/exec.js';
import { adminKubeconfig, eventually, freshNamespace, getJson, kubectl, repoRoot } from '../support/env.js';
import { sumSamples } from '../../src/runtime/prometheus-text.js';
import { killOperator, leaseHolder, metricSum, startOperator, type OperatorProcess } from '../support/operator.js';

const started: OperatorProcess[] = [];
const agents: ChildProcess[] = [];
let agentState: string | undefined;
let enrollPort: number;
let leader: OperatorProcess;
let ns: string;
afterAll(async () => {
  for (const a of agents) a.kill('SIGKILL');
  for (const op of started) await killOperator(op, 'SIGKILL');
  if (agentState) await rm(agentState, { recursive: true, force: true });
});

const scrape = async (op: OperatorProcess) => (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`)).text();

describe('environment metrics on /metrics', () => {
  it('the leader exports Hosts and VMs with the phases in their status; the standby exports none', async () => {
    enrollPort = await freePort();
    leader = await startOperator('op-metrics-a', [`--enroll-listen=127.0.0.1:${enrollPort}`]);
    started.push(leader);
    await eventually(async () => (await leaseHolder()) === 'op-metrics-a', 30_000);
    const standby = await startOperator('op-metrics-b');
    started.push(standby);
    await eventually(async () => (await fetch(`http://127.0.0.1:${standby.healthPort}/readyz`)).ok, 30_000);

    ns = await freshNamespace('metrics');
    const objects = [
      { apiVersion: 'drover.io/v1alpha1', kind: 'Manager', metadata: { name: 'm', namespace: ns }, spec: { mode: 'Standalone', availability: { heartbeatIntervalSeconds: 1, nonResponsiveAfterSeconds: 2 } } },
      // Nothing listens there: the Host never gets Up.
      { apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: { name: 'h1', namespace: ns }, spec: { address: '127.0.0.1', port: 9 } },
      {
        apiVersion: 'drover.io/v1alpha1',
        kind: 'VirtualMachine',
        metadata: { name: 'web', namespace: ns },
        spec: { cpu: { cores: 1 }, memory: '64Mi', disks: [{ name: 'root', storageDomain: 'data', size: '1Gi', bootOrder: 1 }] },
      },
    ];
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));

    const vmPhase = await eventually(async () => (await getJson('virtualmachine', 'web', ns)).status?.phase as string | undefined, 30_000);
    expect(vmPhase).toBe('Pending');
    // The metric follows whatever phase the Host reconciler wrote last.
    await eventually(async () => {
      const phase = (await getJson('host', 'h1', ns)).status?.phase as string | undefined;
      if (!phase) return false;
      const text = await scrape(leader);
      return sumSamples(text, 'drover_host_status_phase', `namespace="${ns}",name="h1",phase="${phase}"`) === 1 ? phase : false;
    }, 30_000);
    // The Manager's summary follows the Host's phase a moment later.
    await eventually(async () => ((await getJson('manager', 'm', ns)).status?.conditions ?? []).some((c: { type: string }) => c.type === 'HighlyAvailable'), 30_000);
    const text = await scrape(leader);
    expect(sumSamples(text, 'drover_host_status_phase', `namespace="${ns}",name="h1"`)).toBe(1);
    expect(sumSamples(text, 'drover_virtualmachine_status_phase', `namespace="${ns}",name="web",phase="Pending"`)).toBe(1);
    expect(sumSamples(text, 'drover_virtualmachine_status_phase', `namespace="${ns}",name="web",phase="Running"`)).toBe(0);
    expect(sumSamples(text, 'drover_virtualmachine_status_condition', `namespace="${ns}",name="web",condition="Scheduled",status="false"`)).toBe(1);
    expect(sumSamples(text, 'drover_manager_status_condition', `namespace="${ns}",name="m",condition="HighlyAvailable",status="false"`)).toBe(1);

    expect(await metricSum(standby, 'drover_host_status_phase')).toBe(0);
    expect(await scrape(standby)).not.toMatch(/^drover_/m);
    // The standby still serves its own process and leader-election metrics.
    expect(await metricSum(standby, 'leader_election_master_status')).toBe(0);
    expect(await scrape(standby)).toMatch(/^process_resident_memory_bytes /m);
  });

  it('times heartbeats of a real enrolled agent, per host', async () => {
    const cli = join(repoRoot(), 'dist', 'cli', 'main.js');
    const agentPort = await freePort();
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: { name: 'hagent', namespace: ns }, spec: { address: '127.0.0.1', port: agentPort },
    }));
    const hash = await eventually(async () => (await getJson('manager', 'm', ns)).status?.pki?.caCertHash as string | undefined, 30_000);
    const { stdout: token } = await run(process.execPath, [cli, 'token', 'create', '--namespace', ns, '--host', 'hagent', '--ttl', '10m', '--kubeconfig', adminKubeconfig()]);
    agentState = await mkdtemp(join(tmpdir(), 'drover-metrics-agent-'));
    let output = '';
    const agent = spawn(process.execPath, [
      cli, 'agent', `--listen=127.0.0.1:${agentPort}`, '--libvirt-uri=test:///default', `--state-dir=${agentState}`,
      `--enroll-url=https://127.0.0.1:${enrollPort}`, `--bootstrap-token=${token.trim()}`, '--host-name=hagent', `--namespace=${ns}`, `--ca-cert-hash=${hash}`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    agents.push(agent);
    agent.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    agent.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));

    const count = await eventually(async () => {
      if (agent.exitCode !== null) throw new Error(`agent exited ${agent.exitCode}: ${output}`);
      const n = sumSamples(await scrape(leader), 'drover_agent_heartbeat_duration_seconds_count', 'host="hagent"');
      return n > 0 ? n : false;
    }, 60_000, 250);
    expect(count).toBeGreaterThan(0);
    // One scrape, so the numbers agree with each other.
    const text = await scrape(leader);
    const beats = sumSamples(text, 'drover_agent_heartbeat_duration_seconds_count', 'host="hagent"');
    expect(beats).toBeGreaterThanOrEqual(count);
    expect(sumSamples(text, 'drover_agent_request_duration_seconds_count', 'verb="stats"')).toBeGreaterThanOrEqual(beats);
    expect(sumSamples(text, 'drover_agent_heartbeat_duration_seconds_bucket', 'host="hagent",le="+Inf"')).toBe(beats);
    expect(sumSamples(text, 'drover_agent_heartbeat_duration_seconds_sum', 'host="hagent"')).toBeGreaterThan(0);
  });

  it('a tight --kube-api-qps holds requests back and counts them; nothing is lost: the objects still converge', async () => {
    // The other operators step down (SIGTERM releases the Lease), so this one leads.
    for (const op of started.splice(0)) await killOperator(op, 'SIGTERM');
    const throttled = await startOperator('op-metrics-throttled', ['--kube-api-qps=2', '--kube-api-burst=1']);
    started.push(throttled);
    await eventually(async () => (await leaseHolder()) === 'op-metrics-throttled', 60_000);
    const tns = await freshNamespace('throttle');
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'drover.io/v1alpha1', kind: 'Manager', metadata: { name: 'm', namespace: tns }, spec: { mode: 'Standalone' } },
      ...['a', 'b', 'c'].map((n) => ({
        apiVersion: 'drover.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: n, namespace: tns },
        spec: { cpu: { cores: 1 }, memory: '64Mi', disks: [{ name: 'root', storageDomain: 'data', size: '1Gi', bootOrder: 1 }] },
      })),
    ] }));
    // Finalizer, then Pending with the reason: every write went out, later.
    for (const n of ['a', 'b', 'c']) {
      const vm = await eventually(async () => {
        const o = await getJson('virtualmachine', n, tns);
        return o.status?.phase === 'Pending' ? o : false;
      }, 60_000);
      expect(vm.metadata.finalizers).toContain('drover.io/finalizer');
    }
    // Requests that waited more than 0.1 s: with 2 a second after a burst of 1 there are many.
    const text = await scrape(throttled);
    const all = sumSamples(text, 'rest_client_rate_limiter_duration_seconds_count');
    const quick = sumSamples(text, 'rest_client_rate_limiter_duration_seconds_bucket', 'le="0.1"');
    expect(all).toBeGreaterThan(0);
    expect(all - quick).toBeGreaterThan(0);
    expect(sumSamples(text, 'rest_client_rate_limiter_duration_seconds_sum')).toBeGreaterThan(0.25);
  });
});
