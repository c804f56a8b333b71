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

/**
 * Active domains of a test host, asked inside the host (its local libvirt
 * socket, which answers while its management link is cut), plus every QEMU
 * process in its namespaces. Processes are listed first and kept only if
 * still alive after libvirt answered: a QEMU libvirt starts is listed by it
 * before it exists, so one seen before the question and not listed in the
 * answer is a QEMU libvirt does not know.
 */
export async function sampleTestHost(host: TestbedHost, timeoutMs = VIRSH_TIMEOUT_MS): Promise<HostSample> {
  const processes: (QemuProcess & { startTime: number })[] = [];
  for (const p of await hostProcesses(host)) {
    if (!p.comm.startsWith('qemu-system')) continue;
    const argv = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const d = qemuDomain(argv);
    if (d) processes.push({ ...d, pid: p.pid, startTime: p.startTime });
  }
  const r = await hostExec(host, ['virsh', '-c', 'qemu:///system', VIRSH_QUERY], { check: false, timeoutMs }).catch((e: unknown) => e as Error);
  const alive: QemuProcess[] = [];
  for (const p of processes) if (await isAlive(p.pid, p.startTime)) alive.push({ uuid: p.uuid, name: p.name, pid: p.pid });
  if (r instanceof Error) return { host: host.name, domains: [], processes: alive, error: r.message };
  if (r.code !== 0) return { host: host.name, domains: [], processes: alive, error: firstLine(r.stderr, `virsh exited ${String(r.code ?? r.signal)}`) };
  return { host: host.name, domains: parseVirshDomains(r.stdout), processes: alive };
}

/** Samples every host of a test bed at once. */
export function sampleTestbed(tb: Testbed): Promise<HostSample[]> {
  return Promise.all(tb.hosts.map((h) => sampleTestHost(h)));
}
