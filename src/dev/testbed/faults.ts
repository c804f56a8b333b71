/**
 * Fault primitives for high-availability tests: each one does to a test host
 * what the named failure does to a real host, and nothing more.
 *
 * - {@link cutLink}/{@link restoreLink}: the host's management NIC (its
 *   `eth0`, inside its netns) goes down/up. The operator cannot reach the
 *   agent or libvirtd; the host keeps running and keeps its storage.
 * - {@link cutStorage}/{@link restoreStorage}: the host's faultfs path to the
 *   shared directory fails every operation with EIO (QEMU disk I/O, agent
 *   probes, file writes), or passes through again. Other hosts are untouched.
 * - {@link killHost}: power loss. SIGKILL of every process in the host's
 *   namespaces (agent, libvirtd, virtlockd, virtlogd, QEMU...) and its NIC
 *   down, so it stops answering as a dead machine does (no RST, silence).
 * - {@link powerOn}: boot. Clears /run/libvirt (a tmpfs on a real host),
 *   brings the NIC up, starts the libvirt daemons and the agent again with
 *   the argv it was last started with.
 * - {@link restartAgent}: the soft-fencing target: only the agent restarts,
 *   QEMU keeps running.
 *
 * Every function takes the test bed or its state directory, and reads the
 * recorded state afresh (processes are added as they start, possibly by
 * another process such as the fence agent).
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { runChecked, sleep } from './exec.js';
import { type StorageState, storageControl } from './faultfs.js';
import { type FoundProcess, isAlive, terminate } from './processes.js';
import {
  type Testbed,
  type TestbedHost,
  type TestbedProcess,
  hostProcesses,
  readState,
  startHostDaemons,
  startOnHost,
} from './testbed.js';

/** A test bed, or the state directory it is recorded in. */
export type TestbedRef = Testbed | string;

/** Whether a host's processes run ('on') or none is left ('off'). */
export type PowerState = 'on' | 'off';

/** The management interface inside every host's netns (the veth peer on its `br0`). */
const MANAGEMENT_NIC = 'eth0';

/** Reads the test bed's current state and finds one host in it. */
async function resolve(ref: TestbedRef, hostName: string): Promise<{ tb: Testbed; host: TestbedHost }> {
  const stateDir = typeof ref === 'string' ? ref : ref.stateDir;
  const tb = await readState(stateDir);
  if (!tb) throw new Error(`no test bed recorded in ${stateDir}`);
  const host = tb.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`test bed in ${stateDir} has no host ${hostName} (hosts: ${tb.hosts.map((h) => h.name).join(', ')})`);
  return { tb, host };
}

/** True when the host's management NIC is administratively up. */
async function linkIsUp(host: TestbedHost): Promise<boolean> {
  const r = await runChecked(['ip', '-n', host.name, '-o', 'link', 'show', 'dev', MANAGEMENT_NIC]);
  return /<[^>]*\bUP\b[^>]*>/.test(r.stdout);
}

async function setLink(host: TestbedHost, state: 'up' | 'down'): Promise<void> {
  await runChecked(['ip', '-n', host.name, 'link', 'set', 'dev', MANAGEMENT_NIC, state]);
}

/** Takes the host's management interface down: unreachable from the operator and the other hosts, storage unaffected. */
export async function cutLink(ref: TestbedRef, hostName: string): Promise<void> {
  await setLink((await resolve(ref, hostName)).host, 'down');
}

/** Brings the host's management interface up again. */
export async function restoreLink(ref: TestbedRef, hostName: string): Promise<void> {
  await setLink((await resolve(ref, hostName)).host, 'up');
}

function controlOf(host: TestbedHost, stateDir: string): string {
  if (!host.storageControl) throw new Error(`test bed in ${stateDir} was created without storage faults (TestbedOptions.storageFaults)`);
  return host.storageControl;
}

/**
 * Cuts the host's storage: from the moment this resolves every operation
 * under the shared directory in that host fails with EIO. Resolves once the
 * host's faultfs has switched.
 */
export async function cutStorage(ref: TestbedRef, hostName: string): Promise<void> {
  const { tb, host } = await resolve(ref, hostName);
  const state = await storageControl(controlOf(host, tb.stateDir), 'cut');
  if (state !== 'cut') throw new Error(`faultfs of ${hostName} reports ${state} after cut`);
}

/** Lets the host's storage pass through again (guests paused on I/O errors stay paused until resumed). */
export async function restoreStorage(ref: TestbedRef, hostName: string): Promise<void> {
  const { tb, host } = await resolve(ref, hostName);
  const state = await storageControl(controlOf(host, tb.stateDir), 'restore');
  if (state !== 'passthrough') throw new Error(`faultfs of ${hostName} reports ${state} after restore`);
}

/** Whether the host's storage is cut or passes through. */
export async function storageState(ref: TestbedRef, hostName: string): Promise<StorageState> {
  const { tb, host } = await resolve(ref, hostName);
  return storageControl(controlOf(host, tb.stateDir), 'status');
}

/**
 * The processes that make a host "on": QEMUs and the long-lived processes
 * started for it (its daemons, its agent). Short-lived commands run inside
 * it from outside (a probe's `virsh`, a test's `touch`) do not power it.
 */
async function residentProcesses(tb: Testbed, host: TestbedHost): Promise<FoundProcess[]> {
  const recorded = tb.processes.filter((p) => p.host === host.name);
  return (await hostProcesses(host)).filter(
    (p) => p.comm.startsWith('qemu-system') || recorded.some((r) => r.pid === p.pid && r.startTime === p.startTime),
  );
}

/**
 * Power loss: SIGKILL of every process in the host's namespaces (repeated
 * until no QEMU, daemon or agent is left: a dying libvirtd may have forked)
 * and its NIC down. The host's faultfs storage path lives outside the host
 * and stays.
 */
export async function killHost(ref: TestbedRef, hostName: string, timeoutMs = 15_000): Promise<void> {
  const { tb, host } = await resolve(ref, hostName);
  // NIC first: from this instant nothing of the host answers on the network.
  await setLink(host, 'down');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const procs = await hostProcesses(host);
    if ((await residentProcesses(tb, host)).length === 0) return;
    for (const p of procs) {
      if (!(await isAlive(p.pid, p.startTime))) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Gone between the check and the signal.
      }
    }
    if (Date.now() > deadline) throw new Error(`processes of ${hostName} still running after SIGKILL: ${procs.map((p) => `${p.pid} ${p.comm}`).join(', ')}`);
    await sleep(50);
  }
}

/** 'on' while a QEMU, daemon or agent of the host runs, 'off' when none does. */
export async function powerState(ref: TestbedRef, hostName: string): Promise<PowerState> {
  const { tb, host } = await resolve(ref, hostName);
  return (await residentProcesses(tb, host)).length > 0 ? 'on' : 'off';
}

/** The agent last started on a host through the test bed (role `agent`, or an older record running `drover agent`). */
export function lastAgent(tb: Testbed, hostName: string): TestbedProcess | undefined {
  const isAgent = (p: TestbedProcess): boolean =>
    p.role === 'agent' || (p.role === undefined && p.argv[1]?.endsWith(path.join('cli', 'main.js')) === true && p.argv[2] === 'agent');
  return tb.processes.filter((p) => p.host === hostName && isAgent(p)).at(-1);
}

async function startAgentAgain(host: TestbedHost, agent: TestbedProcess): Promise<TestbedProcess> {
  return startOnHost(host, agent.argv, agent.logFile, { role: 'agent', ...(agent.env ? { env: agent.env } : {}) });
}

/** Options for {@link powerOn}. */
export interface PowerOnOptions {
  /** Start the agent again when one was recorded (default true). */
  agent?: boolean;
  /** How long to wait for libvirtd (default 60 s). */
  timeoutMs?: number;
}

/**
 * Boots a powered-off host: clears its /run/libvirt (sockets, pid files and
 * QEMU status of the previous boot, which a real host loses with its tmpfs),
 * brings the NIC up, starts virtlogd, virtlockd and libvirtd and waits until
 * libvirtd answers, then starts the agent with the argv it was last started
 * with (its saved certificates make an enrolled agent come back as itself).
 * Does nothing when the host is already on.
 */
export async function powerOn(ref: TestbedRef, hostName: string, opts: PowerOnOptions = {}): Promise<TestbedProcess | undefined> {
  const { tb, host } = await resolve(ref, hostName);
  if ((await residentProcesses(tb, host)).length > 0) return undefined;
  const runDir = path.join(host.runDir, 'run');
  for (const entry of await readdir(runDir).catch(() => [] as string[])) {
    await rm(path.join(runDir, entry), { recursive: true, force: true });
  }
  await setLink(host, 'up');
  await startHostDaemons(tb, host, opts.timeoutMs ?? 60_000);
  const agent = lastAgent(tb, hostName);
  if (!agent || opts.agent === false) return undefined;
  return startAgentAgain(host, agent);
}

/**
 * Soft fencing: stops the host's agent (SIGTERM, SIGKILL after 10 s) and
 * starts it again with the same argv; libvirtd and QEMU keep running.
 * Rejects when the test bed never started an agent on that host.
 */
export async function restartAgent(ref: TestbedRef, hostName: string): Promise<TestbedProcess> {
  const { tb, host } = await resolve(ref, hostName);
  // Soft fencing reaches a real host over its network (SSH): a host that is
  // off, or whose management link is down, cannot be reached that way either.
  if ((await residentProcesses(tb, host)).length === 0) throw new Error(`${hostName} is powered off: its agent cannot be restarted`);
  if (!(await linkIsUp(host))) throw new Error(`${hostName} is unreachable (its management link is down): its agent cannot be restarted`);
  const agent = lastAgent(tb, hostName);
  if (!agent) throw new Error(`no agent was started on ${hostName} through the test bed`);
  const left = await terminate([agent]);
  if (left.length > 0) throw new Error(`agent ${agent.pid} on ${hostName} did not stop`);
  return startAgentAgain(host, agent);
}
