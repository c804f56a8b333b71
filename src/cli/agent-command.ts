/**
 * `drover agent`: the host agent daemon (VDSM's role). HTTPS with mutual TLS
 * only, driving the local libvirt through the hypervisor driver and the
 * storage domains through the storage manager.
 *
 * Its TLS material is either given (--cert/--key/--ca) or obtained by
 * enrolling with a bootstrap token (--enroll-url, --bootstrap-token or
 * --bootstrap-token-file, --host-name, --namespace, optional --ca-cert-hash)
 * and kept in <state-dir>/pki, reused on later starts. Prefer
 * --bootstrap-token-file: a flag's value is visible in the process list.
 *
 * `--hosted-engine DIR` (with optional `--hosted-engine-address`) makes the
 * host a self-hosted engine node: the HA role that keeps the Manager VM
 * alive starts first, before enrollment and the API server, and keeps
 * running when they fail (see agent-hosted-engine.ts, docs/hosted-engine.md).
 *
 * `--hypervisor simulated` (with `--sim-latency-scale`) runs the agent over
 * the simulated hypervisor: for control-plane scale benchmarks only, never
 * for real hosts or functional tests. It is left out of the usage text on
 * purpose.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { createLogger } from '../log.js';
import { enrollAgent, EnrollmentRefusedError } from '../agent/enroll/index.js';
import { credentialPaths } from '../agent/enroll/files.js';
import { finishInterruptedRenewal } from '../agent/pki/rotation.js';
import { BOOTSTRAP_TOKEN_PATTERN } from '../pki/types.js';
import { CA_CERT_HASH_PATTERN } from '../pki/ca-hash.js';
import { enrollRequestSchema } from '../pki/enrollment-protocol.js';
import { createAgentServer } from '../agent/server/index.js';
import { LibvirtPtyConsoles } from '../agent/console/index.js';
import { buildAgentDriver } from './agent-driver.js';
import { FileStorageManager } from '../agent/storage/index.js';
import { parseDuration } from './duration.js';
import { DEFAULT_LIBVIRT_CONFIG_DIR, readLeaseConfig, type LeaseManager } from '../agent/leases/index.js';
import { HOST_NAME_PATTERN } from '../agent/heartbeat/index.js';
import { startHostedEngineRole } from './agent-hosted-engine.js';

/** The agent's version, reported in capabilities. */
export const AGENT_VERSION = '0.1.0';

/** Runs the agent with flags from `argv` until SIGTERM/SIGINT. */
export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', default: '0.0.0.0:54321' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      'libvirt-uri': { type: 'string', default: 'qemu:///system' },
      acceleration: { type: 'string', default: 'auto' },
      hypervisor: { type: 'string', default: 'libvirt' },
      'sim-latency-scale': { type: 'string', default: '1' },
      'state-dir': { type: 'string', default: '/var/lib/drover/agent' },
      heartbeat: { type: 'string', default: '15s' },
      'lease-manager': { type: 'string', default: 'auto' },
      'libvirt-config-dir': { type: 'string', default: DEFAULT_LIBVIRT_CONFIG_DIR },
      'storage-heartbeat-interval': { type: 'string', default: '5s' },
      'enroll-url': { type: 'string' },
      'bootstrap-token': { type: 'string' },
      'bootstrap-token-file': { type: 'string' },
      'host-name': { type: 'string' },
      namespace: { type: 'string' },
      'ca-cert-hash': { type: 'string' },
      'hosted-engine': { type: 'string' },
      'hosted-engine-address': { type: 'string' },
    },
    strict: true,
  });
  const log = createLogger('agent');
  const built = buildAgentDriver(values);
  if ('error' in built) {
    process.stderr.write(`drover agent: ${built.error}\n`);
    return 2;
  }
  if (built.simulated) log.warn({ latencyScale: values['sim-latency-scale'] }, 'SIMULATED hypervisor: for scale benchmarks only, no VM really runs');
  const leaseFlag = values['lease-manager'];
  if (!['auto', 'lockd', 'sanlock', 'none'].includes(leaseFlag)) return usageError('--lease-manager must be auto, lockd, sanlock or none');
  let leases: Awaited<ReturnType<typeof readLeaseConfig>>;
  try {
    leases = await readLeaseConfig(values['libvirt-config-dir'], leaseFlag === 'auto' ? undefined : (leaseFlag as LeaseManager));
  } catch (error) {
    // Guessing "no lock manager" would make the operator distrust (or worse, trust) the wrong thing.
    process.stderr.write(`drover agent: cannot read the lease settings in ${values['libvirt-config-dir']}: ${(error as Error).message}
`);
    return 1;
  }
  const heartbeatIntervalMs = parseDuration(values['storage-heartbeat-interval']);
  if (!(heartbeatIntervalMs > 0)) return usageError('--storage-heartbeat-interval must be a positive duration such as 5s');
  const hostedEngine = await startHostedEngineRole(values, leases, log);
  if (hostedEngine !== undefined && 'error' in hostedEngine) return usageError(hostedEngine.error);
  // A renewal a crash cut is finished (or dropped) before the files are read or checked.
  const ownFiles = values.cert !== undefined && values.key !== undefined ? { cert: values.cert, key: values.key } : credentialPaths(values['state-dir']);
  const recovered = await finishInterruptedRenewal(ownFiles).catch((error: unknown) => {
    log.warn({ err: error }, 'could not check for an interrupted certificate renewal');
    return 'none' as const;
  });
  if (recovered !== 'none') log.warn({ files: ownFiles, recovered }, 'an interrupted certificate renewal was found at start');
  const tlsFiles = await resolveTlsFiles(values, log);
  if (typeof tlsFiles === 'number') {
    // Wrong flags end the agent; a refused enrollment must not take the Manager's keeper down with it.
    if (hostedEngine === undefined || tlsFiles === 2) {
      await hostedEngine?.stop();
      return tlsFiles;
    }
    log.error('enrollment failed: the agent API does not run; the hosted-engine HA role keeps running');
    return untilSignal(log, () => hostedEngine.stop());
  }
  const serverCert = readFileSync(tlsFiles.cert);
  const heartbeatHost = heartbeatName(serverCert);
  log.info({ leases, storageHeartbeat: { host: heartbeatHost, intervalMs: heartbeatIntervalMs } }, 'lease manager and storage heartbeat');
  const [host, port] = values.listen.split(/:(?=[^:]*$)/);
  const server = createAgentServer({
    tls: { cert: serverCert, key: readFileSync(tlsFiles.key), ca: readFileSync(tlsFiles.ca) },
    certificateFiles: { cert: tlsFiles.cert, key: tlsFiles.key },
    host: host || '0.0.0.0',
    port: Number(port ?? 54321),
    driver: built.driver,
    storage: new FileStorageManager({ stateDir: values['state-dir'] }),
    logger: log,
    version: AGENT_VERSION,
    heartbeatMs: parseDuration(values.heartbeat),
    leases,
    storageHeartbeat: { host: heartbeatHost, intervalMs: heartbeatIntervalMs },
    ...(built.simulated ? {} : { consoles: new LibvirtPtyConsoles(values['libvirt-uri']) }),
    ...(hostedEngine !== undefined ? { hostedEngine } : {}),
  });
  try {
    await server.listen();
  } catch (error) {
    if (hostedEngine === undefined) throw error;
    log.error({ err: error }, 'the agent API cannot listen; the hosted-engine HA role keeps running');
    return untilSignal(log, () => hostedEngine.stop());
  }
  log.info({ port: server.port(), libvirt: values['libvirt-uri'] }, 'agent listening');
  return untilSignal(log, async () => {
    await server.close();
    await hostedEngine?.stop();
  });
}

/** Waits for SIGTERM or SIGINT, then runs `stop` and resolves 0. */
function untilSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    const onSignal = (signal: string) => {
      log.info({ signal }, 'agent stopping');
      void stop().then(() => resolve(0));
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}

/**
 * The name this host's storage heartbeat files carry: the CN of the agent's
 * own certificate, which is the Host object's name (enrollment sets it so,
 * and the operator checks it on every connection). The machine's host name
 * only when the certificate has no usable CN.
 */
function heartbeatName(certPem: Buffer): string {
  const cn = /^CN=(.+)$/m.exec(new X509Certificate(certPem).subject)?.[1]?.trim().toLowerCase();
  if (cn !== undefined && HOST_NAME_PATTERN.test(cn)) return cn;
  return hostname().toLowerCase();
}

/** The flags {@link resolveTlsFiles} reads. */
interface TlsFlags {
  cert?: string;
  key?: string;
  ca?: string;
  'state-dir': string;
  'enroll-url'?: string;
  'bootstrap-token'?: string;
  'bootstrap-token-file'?: string;
  'host-name'?: string;
  namespace?: string;
  'ca-cert-hash'?: string;
}

const ENROLL_FLAGS = ['enroll-url', 'bootstrap-token', 'bootstrap-token-file', 'host-name', 'namespace', 'ca-cert-hash'] as const;

function usageError(message: string): number {
  process.stderr.write(`drover agent: ${message}\n`);
  return 2;
}

/**
 * The mTLS files to serve with: the given --cert/--key/--ca, or the ones
 * enrollment keeps in the state directory (enrolling first when they are
 * missing or no longer valid). An exit code when that is impossible: 2 for
 * wrong flags, 1 for a refused enrollment.
 */
async function resolveTlsFiles(values: TlsFlags, log: Logger): Promise<{ cert: string; key: string; ca: string } | number> {
  const given = [values.cert, values.key, values.ca].filter((v) => v !== undefined).length;
  const enrollGiven = ENROLL_FLAGS.filter((f) => values[f] !== undefined);
  if (given > 0) {
    if (given < 3) return usageError('--cert, --key and --ca go together (mutual TLS is not optional)');
    if (enrollGiven.length > 0) return usageError(`--cert/--key/--ca and enrollment flags (--${enrollGiven.join(', --')}) exclude each other`);
    return { cert: values.cert!, key: values.key!, ca: values.ca! };
  }
  const missing = ['enroll-url', 'host-name', 'namespace'].filter((f) => values[f as keyof TlsFlags] === undefined).map((f) => `--${f}`);
  const tokenSources = [values['bootstrap-token'], values['bootstrap-token-file']].filter((v) => v !== undefined).length;
  if (tokenSources === 0) missing.push('--bootstrap-token (or --bootstrap-token-file)');
  if (missing.length > 0) {
    return usageError(`needs either --cert, --key and --ca, or enrollment with a bootstrap token; missing: ${missing.join(', ')}`);
  }
  if (tokenSources > 1) return usageError('give --bootstrap-token or --bootstrap-token-file, not both');
  let token = values['bootstrap-token'];
  if (token === undefined) {
    try {
      token = readFileSync(values['bootstrap-token-file']!, 'utf8').trim();
    } catch (error) {
      return usageError(`cannot read --bootstrap-token-file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  // Never echo the token: a typo'd one is still mostly a secret.
  if (!BOOTSTRAP_TOKEN_PATTERN.test(token)) return usageError('the bootstrap token must look like <6 of [a-z0-9]>.<16 of [a-z0-9]>');
  // The same rules the enrollment server applies, checked before any key is made.
  for (const field of ['hostName', 'namespace'] as const) {
    const flag = field === 'hostName' ? 'host-name' : 'namespace';
    const checked = enrollRequestSchema.shape[field].safeParse(values[flag]);
    if (!checked.success) return usageError(`--${flag}: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  }
  const caCertHash = values['ca-cert-hash'];
  if (caCertHash !== undefined && !CA_CERT_HASH_PATTERN.test(caCertHash)) return usageError('--ca-cert-hash must be sha256:<64 lowercase hex digits>');
  let url: URL;
  try {
    url = new URL(values['enroll-url']!);
  } catch {
    return usageError('--enroll-url must be a URL such as https://10.0.0.1:9443');
  }
  if (url.protocol !== 'https:') return usageError('--enroll-url must be https://');
  try {
    const files = await enrollAgent({
      url: url.href,
      token,
      hostName: values['host-name']!,
      namespace: values.namespace!,
      stateDir: values['state-dir'],
      caCertHash,
      log,
    });
    return files;
  } catch (error) {
    if (error instanceof EnrollmentRefusedError) {
      log.error({ reason: error.reason, status: error.status }, error.message);
      process.stderr.write(`drover agent: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
