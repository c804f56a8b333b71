/** `drover operator`: run the operator until SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { DEFAULT_OPERATOR_OPTIONS, runOperator, type OperatorOptions } from '../operator/operator.js';
import { parseDuration } from './duration.js';

/** The operator's flags (each takes a value). */
const OPERATOR_OPTIONS = {
  kubeconfig: { type: 'string' },
  'lease-namespace': { type: 'string' },
  'lease-name': { type: 'string' },
  identity: { type: 'string' },
  'lease-duration': { type: 'string' },
  'renew-deadline': { type: 'string' },
  'retry-period': { type: 'string' },
  'leader-election-thread': { type: 'string' },
  'leader-stall-limit': { type: 'string' },
  'agent-cert-renew-before': { type: 'string' },
  'kube-api-qps': { type: 'string' },
  'kube-api-burst': { type: 'string' },
  'health-addr': { type: 'string' },
  'watch-namespace': { type: 'string' },
  'max-concurrent-reconciles': { type: 'string' },
  'vm-workers': { type: 'string' },
  'host-workers': { type: 'string' },
  'host-start-concurrency': { type: 'string' },
  'start-concurrency': { type: 'string' },
  'backoff-base': { type: 'string' },
  'backoff-max': { type: 'string' },
  'enroll-listen': { type: 'string' },
  'testbed-fence-state-dir': { type: 'string' },
  'console-listen': { type: 'string' },
  'client-ca-file': { type: 'string' },
  'console-tls-cert-file': { type: 'string' },
  'console-tls-key-file': { type: 'string' },
} as const;

const dflt = DEFAULT_OPERATOR_OPTIONS;
const seconds = (ms: number): string => `${ms / 1000}s`;

/** One line of help per flag: the compiler insists on one for every flag. */
const FLAG_HELP: Record<keyof typeof OPERATOR_OPTIONS, string> = {
  kubeconfig: 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount)',
  'lease-namespace': `namespace of the leader-election Lease (default ${dflt.leaseNamespace}, from $POD_NAMESPACE)`,
  'lease-name': `name of the leader-election Lease (default ${dflt.leaseName})`,
  identity: 'holder identity in the Lease (default $POD_NAME, else the hostname and a random suffix)',
  'lease-duration': `how long a Lease holds without renewal (default ${seconds(dflt.leaseDurationMs)})`,
  'renew-deadline': `the leader gives up when it has not renewed for this long (default ${seconds(dflt.renewDeadlineMs)})`,
  'retry-period': `time between renewals and attempts (default ${seconds(dflt.retryPeriodMs)})`,
  'leader-election-thread': `renew the Lease from its own worker thread, so a busy event loop cannot starve it (default ${dflt.leaderElectionThread})`,
  'leader-stall-limit': `a main thread silent this long counts as hung: the thread stops renewing (default ${seconds(dflt.leaderStallLimitMs)})`,
  'agent-cert-renew-before': 'renew agent certificates this long before they expire (default: when a third of their lifetime is left)',
  'kube-api-qps': `client-side limit on requests for Drover's own objects, per second (default ${dflt.kubeApiQps})`,
  'kube-api-burst': `burst above --kube-api-qps (default ${dflt.kubeApiBurst})`,
  'health-addr': `address of /healthz, /readyz and /metrics (default ${dflt.healthHost}:${dflt.healthPort})`,
  'watch-namespace': 'watch one namespace only (default: all)',
  'max-concurrent-reconciles': `workers of each controller without a flag of its own (default ${dflt.maxConcurrentReconciles})`,
  'vm-workers': `VirtualMachine workers (default ${dflt.vmWorkers}); starts run outside them`,
  'host-workers': `Host workers: every heartbeat is a Host reconcile (default ${dflt.hostWorkers})`,
  'host-start-concurrency': `disk create + define + start calls per host at once (default ${dflt.hostStartConcurrency})`,
  'start-concurrency': `the same on all hosts together (default ${dflt.startConcurrency})`,
  'backoff-base': `first retry delay after a failed reconcile (default ${dflt.backoffBaseMs}ms)`,
  'backoff-max': `longest retry delay (default ${seconds(dflt.backoffMaxMs)})`,
  'enroll-listen': `address of the host enrollment server (default ${dflt.enrollListen})`,
  'testbed-fence-state-dir': 'enables the test bed fence agent for this test bed state directory (development and tests)',
  'console-listen': 'address of the console proxy (default: the enrollment host, port 9444; "" turns it off)',
  'client-ca-file': "the cluster's client CA: client certificates it signed authenticate console users",
  'console-tls-cert-file': "the console proxy's serving certificate (default: self-signed)",
  'console-tls-key-file': 'its key (goes with --console-tls-cert-file)',
};

/** `drover operator --help`. */
export function operatorUsage(): string {
  const names = Object.keys(FLAG_HELP) as (keyof typeof OPERATOR_OPTIONS)[];
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = names.map((n) => `  --${n.padEnd(width)}${FLAG_HELP[n]}`);
  return `usage: drover operator [--flag=value ...]\n\nRuns the Drover operator (leader-elected) until SIGTERM or SIGINT.\nFailure-detection and fencing timings are in Manager.spec.availability, not flags.\n\nflags:\n${lines.join('\n')}\n  --${'help'.padEnd(width)}this text\n`;
}

/** A flag that must be a positive integer, or its default when absent. */
function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** A flag that must be a positive finite number, or its default when absent. */
function positiveNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

/** A flag that must be `true` or `false`, or its default when absent. */
function booleanFlag(flag: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`${flag} must be true or false, got ${JSON.stringify(value)}`);
}

/** Runs the operator with flags from `argv`. */
export async function operatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...OPERATOR_OPTIONS, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    process.stdout.write(operatorUsage());
    return 0;
  }
  const d = DEFAULT_OPERATOR_OPTIONS;
  const [healthHost, healthPort] = (values['health-addr'] ?? `${d.healthHost}:${d.healthPort}`).split(/:(?=[^:]*$)/);
  const options: OperatorOptions = {
    ...d,
    kubeconfig: values.kubeconfig,
    leaseNamespace: values['lease-namespace'] ?? d.leaseNamespace,
    leaseName: values['lease-name'] ?? d.leaseName,
    identity: values.identity ?? process.env['POD_NAME'],
    leaseDurationMs: values['lease-duration'] ? parseDuration(values['lease-duration']) : d.leaseDurationMs,
    renewDeadlineMs: values['renew-deadline'] ? parseDuration(values['renew-deadline']) : d.renewDeadlineMs,
    retryPeriodMs: values['retry-period'] ? parseDuration(values['retry-period']) : d.retryPeriodMs,
    leaderElectionThread: booleanFlag('--leader-election-thread', values['leader-election-thread'], d.leaderElectionThread),
    leaderStallLimitMs: values['leader-stall-limit'] ? parseDuration(values['leader-stall-limit']) : d.leaderStallLimitMs,
    agentCertRenewBeforeMs: values['agent-cert-renew-before'] ? parseDuration(values['agent-cert-renew-before']) : d.agentCertRenewBeforeMs,
    kubeApiQps: positiveNumber('--kube-api-qps', values['kube-api-qps'], d.kubeApiQps),
    kubeApiBurst: positiveInt('--kube-api-burst', values['kube-api-burst'], d.kubeApiBurst),
    healthHost: healthHost || d.healthHost,
    healthPort: Number(healthPort ?? d.healthPort),
    watchNamespace: values['watch-namespace'],
    maxConcurrentReconciles: Number(values['max-concurrent-reconciles'] ?? d.maxConcurrentReconciles),
    vmWorkers: positiveInt('--vm-workers', values['vm-workers'], d.vmWorkers),
    hostWorkers: positiveInt('--host-workers', values['host-workers'], d.hostWorkers),
    hostStartConcurrency: positiveInt('--host-start-concurrency', values['host-start-concurrency'], d.hostStartConcurrency),
    startConcurrency: positiveInt('--start-concurrency', values['start-concurrency'], d.startConcurrency),
    backoffBaseMs: values['backoff-base'] ? parseDuration(values['backoff-base']) : d.backoffBaseMs,
    backoffMaxMs: values['backoff-max'] ? parseDuration(values['backoff-max']) : d.backoffMaxMs,
    enrollListen: values['enroll-listen'] ?? d.enrollListen,
    ...(values['testbed-fence-state-dir'] ? { testbedFenceStateDir: values['testbed-fence-state-dir'] } : {}),
    ...(values['console-listen'] !== undefined ? { consoleListen: values['console-listen'] } : {}),
    ...(values['client-ca-file'] ? { clientCaFile: values['client-ca-file'] } : {}),
    ...(values['console-tls-cert-file'] ? { consoleTlsCertFile: values['console-tls-cert-file'] } : {}),
    ...(values['console-tls-key-file'] ? { consoleTlsKeyFile: values['console-tls-key-file'] } : {}),
  };
  if ((options.consoleTlsCertFile === undefined) !== (options.consoleTlsKeyFile === undefined)) {
    throw new Error('--console-tls-cert-file and --console-tls-key-file go together');
  }
  const log = createLogger('operator');
  const operator = await runOperator(options, log);
  const onSignal = (signal: string) => {
    log.info({ signal }, 'signal received');
    void operator.stop();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return operator.exited;
}
