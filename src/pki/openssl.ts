/**
 * X.509 with the `openssl` command: node:crypto verifies certificates but
 * cannot make them. Programs run through execFile with argv arrays (never a
 * shell string), every value that reaches an argument is checked against a
 * strict pattern first, and key material only ever sits in a private
 * temporary directory (mode 0700, files 0600) removed right after use.
 * Nothing here logs; errors carry openssl's stderr, which never contains keys.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../dev/exec.js';

/** A certificate and its private key, as PEM text. */
export interface PemKeyPair {
  certPem: string;
  keyPem: string;
}

/** Subject of a certificate. */
export interface SubjectName {
  commonName: string;
  /** Organization: the group a client certificate belongs to. */
  organization?: string;
}

/** Subject alternative names. */
export interface SubjectAltNames {
  ips?: string[];
  dns?: string[];
}

// `-subj` separates attributes with '/', so no '/', '=', '+' or '\' inside values.
const SUBJECT_VALUE = /^[A-Za-z0-9 ._:@-]{1,64}$/;
/** A DNS name (optionally a wildcard) as a SAN may carry it. */
export const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
/** One PEM certificate request, nothing before or after it. */
const CSR_PEM = /^-----BEGIN CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE REQUEST-----\r?\n?$/;
/** Longest CSR accepted: a P-256 or RSA-4096 request is well under this. */
export const MAX_CSR_BYTES = 16 * 1024;

/** Returns `value` if it matches `pattern`; throws naming `what` otherwise. */
export function checkValue(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`${what} "${value}" is not allowed (must match ${pattern.source})`);
  return value;
}

/** The `-subj` argument for a subject, with each value checked. */
export function subjectArg(o: SubjectName): string {
  const parts = [];
  if (o.organization !== undefined) parts.push(`/O=${checkValue(o.organization, SUBJECT_VALUE, 'organization')}`);
  parts.push(`/CN=${checkValue(o.commonName, SUBJECT_VALUE, 'common name')}`);
  return parts.join('');
}

/** The `subjectAltName=` extension line; throws on anything that is not an IP address or DNS name. */
export function subjectAltNameExtension(sans: SubjectAltNames): string {
  const entries = [
    ...(sans.ips ?? []).map((ip) => {
      if (isIP(ip) === 0) throw new Error(`"${ip}" is not an IP address`);
      return `IP:${ip}`;
    }),
    ...(sans.dns ?? []).map((d) => `DNS:${checkValue(d, DNS_NAME, 'DNS name')}`),
  ];
  if (entries.length === 0) throw new Error('a server certificate needs at least one IP address or DNS name');
  return `subjectAltName=${entries.join(',')}`;
}

/** A random positive 128-bit serial (no shared serial file to race on). */
export function randomSerial(): string {
  return `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')}`;
}

/** Runs `fn` with a fresh private directory (0700) that is removed afterwards, whatever happens. */
export async function withPrivateDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-pki-'));
  try {
    await chmod(dir, 0o700);
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes a file only its owner can read. */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Generates an EC P-256 private key into `path` (mode 0600). */
export async function generateEcKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  await chmod(path, 0o600);
}

/** A certificate request for the key at `keyPath`, subject `name`, as PEM. */
export async function createCsr(keyPath: string, name: SubjectName): Promise<string> {
  const { stdout } = await run('openssl', ['req', '-new', '-key', keyPath, '-subj', subjectArg(name)]);
  return stdout;
}

/** Creates a self-signed CA (P-256) in memory. `days` of validity. */
export async function createSelfSignedCa(commonName: string, days: number): Promise<PemKeyPair> {
  return withPrivateDir(async (dir) => {
    const key = join(dir, 'ca.key');
    await generateEcKey(key);
    const { stdout } = await run('openssl', [
      'req', '-x509', '-new', '-key', key, '-subj', subjectArg({ commonName }), '-days', String(days), '-sha256',
      '-set_serial', randomSerial(),
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return { certPem: stdout, keyPem: await readFile(key, 'utf8') };
  });
}

/** A self-signed leaf certificate (e.g. a serving certificate whose authenticity comes from elsewhere). */
export async function createSelfSignedServerCert(commonName: string, sans: SubjectAltNames, days: number): Promise<PemKeyPair> {
  return withPrivateDir(async (dir) => {
    const key = join(dir, 'server.key');
    await generateEcKey(key);
    const { stdout } = await run('openssl', [
      'req', '-x509', '-new', '-key', key, '-subj', subjectArg({ commonName }), '-days', String(days), '-sha256',
      '-set_serial', randomSerial(),
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth',
      '-addext', subjectAltNameExtension(sans),
    ]);
    return { certPem: stdout, keyPem: await readFile(key, 'utf8') };
  });
}

/** What {@link signCsr} needs. */
export interface SignCsrOptions {
  ca: PemKeyPair;
  csrPem: string;
  /** The subject written into the certificate: the CSR's own subject is ignored. */
  subject: SubjectName;
  /** openssl extension lines (`keyUsage=...`): the CSR's requested extensions are ignored. */
  extensions: string[];
  /** Validity in days; negative gives an already expired certificate (tests). */
  days: number;
}

/**
 * Signs a certificate request with the CA. The request's self-signature is
 * verified first (proof that the requester holds the key); its subject and
 * extensions are discarded, so the requester chooses only the public key.
 */
export async function signCsr(o: SignCsrOptions): Promise<string> {
  if (Buffer.byteLength(o.csrPem) > MAX_CSR_BYTES || !CSR_PEM.test(o.csrPem)) {
    throw new InvalidCsrError('csr must be one PEM "CERTIFICATE REQUEST" block');
  }
  if (!Number.isInteger(o.days) || o.days === 0) throw new Error('days must be a non-zero integer');
  return withPrivateDir(async (dir) => {
    const paths = { caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), csr: join(dir, 'req.csr'), ext: join(dir, 'req.ext') };
    await writePrivateFile(paths.csr, o.csrPem);
    // OpenSSL 3.0 exits 0 even when the signature does not verify: only its "verify OK" line counts.
    const verified = await run('openssl', ['req', '-verify', '-noout', '-in', paths.csr]).then(
      (r) => /self-signature verify OK/.test(r.stderr),
      () => false,
    );
    if (!verified) throw new InvalidCsrError('csr could not be parsed or its signature does not verify');
    await Promise.all([
      writePrivateFile(paths.caCert, o.ca.certPem),
      writePrivateFile(paths.caKey, o.ca.keyPem),
      writePrivateFile(paths.ext, o.extensions.join('\n') + '\n'),
    ]);
    const { stdout } = await run('openssl', [
      'x509', '-req', '-in', paths.csr, '-CA', paths.caCert, '-CAkey', paths.caKey,
      '-subj', subjectArg(o.subject),
      '-set_serial', randomSerial(),
      // A negative number of days gives a notAfter already past (OpenSSL 3.0 has no -not_after).
      '-days', String(o.days), '-sha256', '-extfile', paths.ext,
    ]);
    return stdout;
  });
}

/** A key and a certificate for it signed by `ca`, all in memory. */
export async function issueKeyAndCert(ca: PemKeyPair, subject: SubjectName, extensions: string[], days: number): Promise<PemKeyPair> {
  return withPrivateDir(async (dir) => {
    const key = join(dir, 'leaf.key');
    await generateEcKey(key);
    const csrPem = await createCsr(key, subject);
    const certPem = await signCsr({ ca, csrPem, subject, extensions, days });
    return { certPem, keyPem: await readFile(key, 'utf8') };
  });
}

/** The certificate request is unusable (malformed, or its signature is wrong). */
export class InvalidCsrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCsrError';
  }
}
