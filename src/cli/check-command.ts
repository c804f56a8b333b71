/**
 * `drover check`: the invariant checker of VM high availability. Asks every
 * host's libvirt directly (not the agents, not the operator) which domains
 * are active, and reports every domain UUID with more than one running
 * instance. Exit 1 when there is one, 0 when there is none, 2 on bad flags.
 *
 *   drover check --uri qemu+tls://host1/system --uri qemu+tls://host2/system [--json]
 *   drover check --testbed <state dir> [--json]   (test hosts, asked inside their namespaces)
 */
import { parseArgs } from 'node:util';
import { countsAsRunning, findViolations, sampleTestbed, sampleUri, type HostSample, type Violation } from '../check/index.js';
import { readState } from '../dev/testbed/index.js';

const USAGE = 'usage: drover check (--uri URI [--uri URI...] | --testbed STATE_DIR) [--json]\n';

/** The report `--json` prints. */
export interface CheckReport {
  hosts: { host: string; domains: { uuid: string; name: string; running: boolean }[]; error?: string }[];
  violations: Violation[];
}

/** Builds the report from samples: every active domain per host (running: whether it counts as a running instance). */
export function checkReport(samples: readonly HostSample[]): CheckReport {
  return {
    hosts: samples.map((s) => ({
      host: s.host,
      domains: s.domains.map((d) => ({ uuid: d.uuid, name: d.name, running: countsAsRunning(d) })),
      ...(s.error !== undefined ? { error: s.error } : {}),
    })),
    violations: findViolations(samples),
  };
}

/** Runs `drover check`. */
export async function checkCommand(argv: string[]): Promise<number> {
  let values: { uri?: string[]; testbed?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { uri: { type: 'string', multiple: true }, testbed: { type: 'string' }, json: { type: 'boolean', default: false } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const samples: Promise<HostSample>[] = (values.uri ?? []).map((u) => sampleUri(u));
  let all: HostSample[] = [];
  if (values.testbed) {
    const tb = await readState(values.testbed);
    if (!tb) {
      process.stderr.write(`no test bed recorded in ${values.testbed}\n`);
      return 2;
    }
    all = await sampleTestbed(tb);
  }
  if (samples.length === 0 && !values.testbed) {
    process.stderr.write(USAGE);
    return 2;
  }
  all.push(...(await Promise.all(samples)));
  const report = checkReport(all);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const h of report.hosts) {
      process.stdout.write(h.error !== undefined ? `${h.host}: unreachable (${h.error})\n` : `${h.host}: ${h.domains.filter((d) => d.running).length} running\n`);
    }
    for (const v of report.violations) {
      process.stdout.write(`VIOLATION: ${v.name || '(no name)'} ${v.uuid} runs ${v.instances} times: ${v.hosts.join(', ')}\n`);
    }
    if (report.violations.length === 0) process.stdout.write('ok: no VM runs on more than one host\n');
  }
  return report.violations.length > 0 ? 1 : 0;
}
