/**
 * Certificates for the agent's mutual TLS, made with the `openssl` command
 * (argv only, never a shell). The Manager's CA signs one server certificate
 * per host (with the host's IP/DNS names) and client certificates for the
 * operator. Keys are written with mode 0600 and never logged. These make the
 * development and test certificates as files; the openssl invocation and the
 * checks on every value are shared with the operator's in-memory PKI
 * (src/pki/openssl.ts).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../dev/exec.js';
import { checkValue, generateEcKey, randomSerial, subjectAltNameExtension, subjectArg } from '../../pki/openssl.js';

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

/** Creates a CA (self-signed, P-256) in `dir` as `<name>.crt`/`<name>.key`. */
export async function createCa(dir: string, name: string, commonName = `${name}`, days = 3650): Promise<CertFiles> {
  checkValue(name, FILE_STEM, 'file name');
  await mkdir(dir, { recursive: true });
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await generateEcKey(files.key);
  await run('openssl', [
    'req', '-x509', '-new', '-key', files.key, '-subj', subjectArg({ commonName }), '-days', String(days), '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', files.cert,
  ]);
  return files;
}

/** Signs a new key's certificate with `ca`, with the given extensions. */
async function issue(dir: string, ca: CertFiles, o: IssueOptions, extensions: string[]): Promise<CertFiles> {
  checkValue(o.name, FILE_STEM, 'file name');
  if (o.days !== undefined && (!Number.isInteger(o.days) || o.days === 0)) throw new Error('days must be a non-zero integer');
  await mkdir(dir, { recursive: true });
  const files = { cert: join(dir, `${o.name}.crt`), key: join(dir, `${o.name}.key`) };
  const csr = join(dir, `${o.name}.csr`);
  const ext = join(dir, `${o.name}.ext`);
  await generateEcKey(files.key);
  await run('openssl', ['req', '-new', '-key', files.key, '-subj', subjectArg(o), '-out', csr]);
  await writeFile(ext, extensions.join('\n') + '\n');
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key,
    // A random serial per certificate: no shared serial file to race on.
    '-set_serial', randomSerial(),
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
  const san = subjectAltNameExtension({ ips: o.ips, dns: o.dnsNames });
  return issue(dir, ca, o, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    san,
  ]);
}

/** A host certificate as the Manager issues them at enrollment: server and client authentication. */
export async function issueHostCert(dir: string, ca: CertFiles, o: IssueOptions & { ips?: string[]; dnsNames?: string[] }): Promise<CertFiles> {
  const san = subjectAltNameExtension({ ips: o.ips, dns: o.dnsNames });
  return issue(dir, ca, o, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth,clientAuth', san]);
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
