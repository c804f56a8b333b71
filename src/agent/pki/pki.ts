/**
 * Certificates for the agent's mutual TLS, made with the `openssl` command
 * (argv only, never a shell). The Manager's CA signs one server certificate
 * per host (with the host's IP/DNS names) and client certificates for the
 * operator. Keys are written with mode 0600 and never logged.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { run } from '../../dev/exec.js';

/** A certificate and its key, as file paths. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** Options common to issued certificates. */
export interface IssueOptions {
  /** File stem in `dir`: `<name>.crt`, `<name>.key`. Letters, digits and `-` only. */
  name: string;
  /** Subject common name. */
  commonName: string;
  /** Subject organization (e.g. a group a client belongs to). */
  organization?: string;
  /** Validity in days; default 825 (the CA/B limit for server certificates). Negative = already expired (tests). */
  days?: number;
}

const FILE_STEM = /^[a-z0-9][a-z0-9-]{0,62}$/;
// `-subj` separates attributes with '/', so no '/', '=', '+' or '\' inside values.
const SUBJECT_VALUE = /^[A-Za-z0-9 ._:@-]{1,64}$/;
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;

function check(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`${what} "${value}" is not allowed (must match ${pattern.source})`);
  return value;
}

function subject(o: { commonName: string; organization?: string }): string {
  const parts = [];
  if (o.organization !== undefined) parts.push(`/O=${check(o.organization, SUBJECT_VALUE, 'organization')}`);
  parts.push(`/CN=${check(o.commonName, SUBJECT_VALUE, 'common name')}`);
  return parts.join('');
}

async function newKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  await chmod(path, 0o600);
}

/** Creates a CA (self-signed, P-256) in `dir` as `<name>.crt`/`<name>.key`. */
export async function createCa(dir: string, name: string, commonName = `${name}`, days = 3650): Promise<CertFiles> {
  check(name, FILE_STEM, 'file name');
  await mkdir(dir, { recursive: true });
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await newKey(files.key);
  await run('openssl', [
    'req', '-x509', '-new', '-key', files.key, '-subj', subject({ commonName }), '-days', String(days), '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', files.cert,
  ]);
  return files;
}

/** Signs a new key's certificate with `ca`, with the given extensions. */
async function issue(dir: string, ca: CertFiles, o: IssueOptions, extensions: string[]): Promise<CertFiles> {
  check(o.name, FILE_STEM, 'file name');
  if (o.days !== undefined && (!Number.isInteger(o.days) || o.days === 0)) throw new Error('days must be a non-zero integer');
  await mkdir(dir, { recursive: true });
  const files = { cert: join(dir, `${o.name}.crt`), key: join(dir, `${o.name}.key`) };
  const csr = join(dir, `${o.name}.csr`);
  const ext = join(dir, `${o.name}.ext`);
  await newKey(files.key);
  await run('openssl', ['req', '-new', '-key', files.key, '-subj', subject(o), '-out', csr]);
  await writeFile(ext, extensions.join('\n') + '\n');
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key,
    // A random serial per certificate: no shared serial file to race on.
    '-set_serial', `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')}`,
    // A negative number of days gives a certificate whose notAfter is already past (OpenSSL 3.0 has no -not_after).
    '-days', String(o.days ?? 825), '-sha256', '-extfile', ext, '-out', files.cert,
  ]);
  await rm(csr, { force: true });
  await rm(ext, { force: true });
  return files;
}

/** A host's server certificate for its IP addresses and DNS names. */
export async function issueServerCert(
  dir: string,
  ca: CertFiles,
  o: IssueOptions & { ips?: string[]; dnsNames?: string[] },
): Promise<CertFiles> {
  const san = [
    ...(o.ips ?? []).map((ip) => {
      if (isIP(ip) === 0) throw new Error(`"${ip}" is not an IP address`);
      return `IP:${ip}`;
    }),
    ...(o.dnsNames ?? []).map((d) => `DNS:${check(d, DNS_NAME, 'DNS name')}`),
  ];
  if (san.length === 0) throw new Error('a server certificate needs at least one IP address or DNS name');
  return issue(dir, ca, o, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${san.join(',')}`,
  ]);
}

/** A client certificate (the operator's, or an admin's). */
export async function issueClientCert(dir: string, ca: CertFiles, o: IssueOptions): Promise<CertFiles> {
  return issue(dir, ca, o, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']);
}

/** PEM text of a certificate and key, as node:tls takes it. */
export interface PemPair {
  cert: string;
  key: string;
}

/** Reads the PEM files of `files`. */
export async function readPem(files: CertFiles): Promise<PemPair> {
  const [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
  return { cert, key };
}
