/** The hosted-engine section of docs/benchmarks.md. */
import type { HostedEngineBenchResult } from './hosted-engine.js';

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Renders one stored hosted-engine result. */
export function hostedEngineSection(r: HostedEngineBenchResult & { machine?: { cpus: number; cpuModel: string; date: string } }): string {
  const met = r.p50Ms <= r.targetMs;
  const t = r.timings;
  const lines = [
    '## Self-hosted engine: node death → Manager VM healthy again (issue 6)',
    '',
    `Machine: ${r.machine ? `${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.date}` : 'unknown'}; 1-minute load average ${r.loadAverage.atStart} at the start, ${r.loadAverage.atEnd} at the end (the machine is shared). ${r.setup.hosts} test hosts, each running \`drover agent --hosted-engine\` (no operator); the Manager VM is the ${r.setup.guest}.`,
    `Default timings: metadata every ${s(t.metadataIntervalMs)}, host alive ${s(t.hostAliveTimeoutMs)}, bad health ${s(t.badHealthTimeoutMs)}, start timeout ${s(t.startTimeoutMs)}, health check every ${s(t.healthCheckIntervalMs)}, start retry ${s(t.startRetryMs)}.`,
    'The node running the Manager VM is killed as a power loss (agent, libvirt daemons and QEMU SIGKILLed, its NIC down); the time runs until the other node\'s libvirt runs the VM, and until its health URL answers.',
    '',
    '| figure | value | target (issue 6) | |',
    '|---|---|---|---|',
    `| node death → Manager healthy, p50 over ${r.runs.length} runs | ${s(r.p50Ms)} | ≤ ${s(r.targetMs)} | ${met ? 'met' : '**missed**'} |`,
    `| max | ${s(r.maxMs)} | | |`,
    `| node death → VM running on the other node, p50 | ${s(r.runningP50Ms)} | | |`,
    `| Manager VM seen running twice (invariant sampler, ${r.invariantSamples} samples of every host) | ${r.doubleRuns} | 0 | ${r.doubleRuns === 0 ? 'met' : '**missed**'} |`,
    '',
    'Anchors (ANCHORS.md): ovirt-ha-agent waits 60 s (host alive) before another node takes over, then the engine VM boots.',
    'Where the time goes: about the host-alive timeout plus one metadata interval until the standby sees the node dead, about a second for the start, the rest is the guest booting under TCG until its HTTP server answers.',
    '',
    '| run | killed | restarted on | running after | healthy after |',
    '|---|---|---|---|---|',
    ...r.runs.map((run, i) => `| ${i + 1} | ${run.from} | ${run.to} | ${s(run.runningMs)} | ${s(run.healthyMs)} |`),
    '',
  ];
  return lines.join('\n');
}
