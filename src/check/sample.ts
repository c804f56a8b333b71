/**
 * Asking hosts what runs on them, for the invariant checker: libvirt
 * directly (virsh, argv only), and on test hosts also the QEMU processes in
 * the host's namespaces, which a dead or unreachable libvirtd cannot hide.
 */
import { readFile } from 'node:fs/promises';
import { hostExec, hostProcesses, run, type Testbed, type TestbedHost } from '../dev/testbed/index.js';
import { type DomainInstance, type HostSample, parseVirshList, qemuDomain } from './violations.js';

/** How long one host may take to answer before it counts as unreachable. */
const VIRSH_TIMEOUT_MS = 10_000;

/** Active domains of the libvirt at `uri`, asked from here. */
export async function sampleUri(uri: string, timeoutMs = VIRSH_TIMEOUT_MS): Promise<HostSample> {
  const r = await run(['virsh', '-c', uri, 'list', '--uuid', '--name'], { timeoutMs });
  if (r.code !== 0) return { host: uri, instances: [], error: (r.stderr.trim() || `virsh exited ${String(r.code ?? r.signal)}`).split('\n')[0]! };
  return { host: uri, instances: parseVirshList(r.stdout) };
}

/**
 * Active domains of a test host, asked inside the host (its local libvirt
 * socket, which works while its management link is cut) plus every QEMU
 * process in its namespaces.
 */
export async function sampleTestHost(host: TestbedHost, timeoutMs = VIRSH_TIMEOUT_MS): Promise<HostSample> {
  const instances: DomainInstance[] = [];
  let error: string | undefined;
  const [virsh, procs] = await Promise.all([
    hostExec(host, ['virsh', '-c', 'qemu:///system', 'list', '--uuid', '--name'], { check: false, timeoutMs }).catch((e: unknown) => e as Error),
    hostProcesses(host),
  ]);
  if (virsh instanceof Error) error = virsh.message;
  else if (virsh.code !== 0) error = (virsh.stderr.trim() || `virsh exited ${String(virsh.code ?? virsh.signal)}`).split('\n')[0];
  else instances.push(...parseVirshList(virsh.stdout));
  for (const p of procs) {
    if (!p.comm.startsWith('qemu-system')) continue;
    const argv = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const d = qemuDomain(argv);
    if (d) instances.push({ ...d, source: { pid: p.pid } });
  }
  return { host: host.name, instances, ...(error !== undefined ? { error } : {}) };
}

/** Samples every host of a test bed at once. */
export function sampleTestbed(tb: Testbed): Promise<HostSample[]> {
  return Promise.all(tb.hosts.map((h) => sampleTestHost(h)));
}
