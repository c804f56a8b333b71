/**
 * Asking hosts what runs on them, for the invariant checker: libvirt
 * directly (virsh, argv only), and on test hosts also the QEMU processes in
 * the host's namespaces, which a dead or unreachable libvirtd cannot hide.
 */
import { readFile } from 'node:fs/promises';
import { hostExec, hostProcesses, isAlive, run, type Testbed, type TestbedHost } from '../dev/testbed/index.js';
import { type HostSample, type QemuProcess, parseVirshDomains, qemuDomain } from './violations.js';

/** How long one host may take to answer before it counts as unreachable. */
const VIRSH_TIMEOUT_MS = 10_000;

/**
 * One virsh run listing active domains with UUIDs, then their state and
 * reason. A fixed command string (virsh's own `;` separator), no input in it.
 */
const VIRSH_QUERY = 'list --uuid --name; domstats --state --list-active';

function firstLine(stderr: string, fallback: string): string {
  return (stderr.trim() || fallback).split('\n')[0]!;
}

/** Active domains of the libvirt at `uri`, asked from here. */
export async function sampleUri(uri: string, timeoutMs = VIRSH_TIMEOUT_MS): Promise<HostSample> {
  const r = await run(['virsh', '-c', uri, VIRSH_QUERY], { timeoutMs });
  if (r.code !== 0) return { host: uri, domains: [], error: firstLine(r.stderr, `virsh exited ${String(r.code ?? r.signal)}`) };
  return { host: uri, domains: parseVirshDomains(r.stdout) };
}

type SeenProcess = QemuProcess & { startTime: number };

/** QEMU processes libvirt started (they carry `-uuid`) in a test host's namespaces. */
async function scanQemu(host: TestbedHost): Promise<SeenProcess[]> {
  const out: SeenProcess[] = [];
  for (const p of await hostProcesses(host)) {
    if (!p.comm.startsWith('qemu-system')) continue;
    const argv = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const d = qemuDomain(argv);
    if (d) out.push({ ...d, pid: p.pid, startTime: p.startTime });
  }
  return out;
}

/** libvirt inside a test host (its local socket answers while its management link is cut). */
async function askInside(host: TestbedHost, timeoutMs: number): Promise<Pick<HostSample, 'domains' | 'error'>> {
  const r = await hostExec(host, ['virsh', '-c', 'qemu:///system', VIRSH_QUERY], { check: false, timeoutMs }).catch((e: unknown) => e as Error);
  if (r instanceof Error) return { domains: [], error: r.message };
  if (r.code !== 0) return { domains: [], error: firstLine(r.stderr, `virsh exited ${String(r.code ?? r.signal)}`) };
  return { domains: parseVirshDomains(r.stdout) };
}

/**
 * One round over test hosts, in three phases so that every host's answer
 * refers to about the same instant: (1) the QEMU processes of every host,
 * (2) every host's libvirt (inside the host), (3) one liveness pass over
 * the processes of phase 1, after all answers are in. A QEMU libvirt starts
 * is listed by libvirt before it exists, so a process of phase 1 that libvirt
 * does not list is one it does not know; a process dead by phase 3 no
 * longer runs, whatever libvirt said in between.
 */
export async function sampleTestHosts(hosts: readonly TestbedHost[], timeoutMs = VIRSH_TIMEOUT_MS): Promise<HostSample[]> {
  const scans = await Promise.all(hosts.map(scanQemu));
  const answers = await Promise.all(hosts.map((h) => askInside(h, timeoutMs)));
  const out: HostSample[] = [];
  for (const [i, host] of hosts.entries()) {
    const alive: QemuProcess[] = [];
    for (const p of scans[i]!) if (await isAlive(p.pid, p.startTime)) alive.push({ uuid: p.uuid, name: p.name, pid: p.pid });
    out.push({ host: host.name, ...answers[i]!, processes: alive });
  }
  return out;
}

/** Samples one test host (see {@link sampleTestHosts}). */
export async function sampleTestHost(host: TestbedHost, timeoutMs = VIRSH_TIMEOUT_MS): Promise<HostSample> {
  return (await sampleTestHosts([host], timeoutMs))[0]!;
}

/** Samples every host of a test bed in one round. */
export function sampleTestbed(tb: Testbed): Promise<HostSample[]> {
  return sampleTestHosts(tb.hosts);
}
