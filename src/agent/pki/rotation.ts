/**
 * Renewal of the agent's own certificate, driven by the operator over the
 * existing mutual TLS (the role kubelet's certificate rotation plays, with
 * the Manager deciding when): the operator asks for a certificate request,
 * signs it with the Manager's CA, and installs the answer.
 *
 * The new key is made here and never leaves the host. An installed
 * certificate must match the pending key, chain to the CA the agent already
 * trusts and name the same host as the current one. Then both files are
 * written and synced beside the old ones (`.next`), renamed over them (key
 * first), and the directory synced before the answer;
 * {@link finishInterruptedRenewal}, run before the agent reads its files,
 * completes or drops a renewal a crash cut, so the files on disk are always
 * a matching pair. New TLS connections get the new
 * certificate at once; connections already open keep theirs.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { AgentApiError, type AgentCertificate } from '../../api/agent/index.js';
import { createCsr, generateEcKey, withPrivateDir } from '../../pki/openssl.js';
import { CLOCK_SKEW_MS, issuedBy } from '../enroll/files.js';
import { syncDirectory, writeFileAtomic } from '../storage/atomic-file.js';

/** Where the served certificate and key live, so a renewal outlives a restart. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/** Options of {@link CertificateRotation}. */
export interface CertificateRotationOptions {
  /** The served certificate and key (PEM). */
  cert: string;
  key: string;
  /** The CA every certificate of this agent must chain to (PEM). */
  ca: string;
  /** Files to replace on a renewal; undefined keeps it in memory (tests). */
  files?: CertificateFiles;
  /** Switches the server to new credentials (`tls.Server.setSecureContext`). */
  apply: (tls: { cert: string; key: string }) => void;
  log: Logger;
  now?: () => Date;
}

/** The certificate facts the API reports. */
export function describeCertificate(cert: X509Certificate): AgentCertificate {
  return { serial: cert.serialNumber.toLowerCase(), notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString() };
}

/** The certificate rotation of one agent; see the module comment. */
export class CertificateRotation {
  private current: X509Certificate;
  private readonly ca: X509Certificate;
  /** The key of the latest certificate request, until a certificate for it is installed. */
  private pendingKey: string | undefined;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: CertificateRotationOptions) {
    this.current = new X509Certificate(options.cert);
    this.ca = new X509Certificate(options.ca);
  }

  /** The certificate served now. */
  info(): AgentCertificate {
    return describeCertificate(this.current);
  }

  /** A certificate request for a new key with the current subject; the key stays here. */
  csr(): Promise<{ csr: string }> {
    return this.serialised(async () => {
      const commonName = commonNameOf(this.current);
      if (commonName === undefined) throw new AgentApiError(409, 'NoSubject', 'the served certificate has no common name to renew');
      const { key, csr } = await withPrivateDir(async (dir) => {
        const keyFile = join(dir, 'key.pem');
        await generateEcKey(keyFile);
        return { key: await readFile(keyFile, 'utf8'), csr: await createCsr(keyFile, { commonName }) };
      });
      this.pendingKey = key;
      return { csr };
    });
  }

  /** Installs a certificate for the pending key; 4xx with the reason when it does not fit, and nothing changes. */
  install(certPem: string): Promise<AgentCertificate> {
    return this.serialised(async () => {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(certPem);
      } catch {
        throw new AgentApiError(400, 'InvalidCertificate', 'cert is not a PEM certificate', 'cert');
      }
      const key = this.pendingKey;
      if (key === undefined) throw new AgentApiError(409, 'NoPendingRequest', 'no certificate request is pending: ask for one first (POST /v1/host/certificate/csr)');
      if (!sameKey(cert, key)) throw new AgentApiError(400, 'KeyMismatch', 'cert is not for the key of the pending certificate request', 'cert');
      if (!issuedBy(cert, this.ca)) throw new AgentApiError(400, 'UntrustedIssuer', 'cert is not signed by the CA this agent trusts', 'cert');
      if (commonNameOf(cert) !== commonNameOf(this.current)) {
        throw new AgentApiError(400, 'WrongSubject', `cert names ${commonNameOf(cert) ?? 'nothing'}, this host is ${commonNameOf(this.current) ?? '?'}`, 'cert');
      }
      const now = (this.options.now ?? (() => new Date()))().getTime();
      if (now < Date.parse(cert.validFrom) - CLOCK_SKEW_MS || now >= Date.parse(cert.validTo)) {
        throw new AgentApiError(400, 'NotValidNow', `cert is valid from ${cert.validFrom} to ${cert.validTo}`, 'cert');
      }
      if (this.options.files) {
        const { cert: certFile, key: keyFile } = this.options.files;
        await writeFileAtomic(`${keyFile}.next`, key, 0o600);
        await writeFileAtomic(`${certFile}.next`, certPem);
        // Durable before the operator hears "installed": a power loss must not undo a renewal it recorded.
        await switchToNext(this.options.files);
      }
      this.options.apply({ cert: certPem, key });
      const previous = this.current;
      this.current = cert;
      this.pendingKey = undefined;
      this.options.log.info({ serial: cert.serialNumber.toLowerCase(), notAfter: cert.validTo, previousSerial: previous.serialNumber.toLowerCase() }, 'certificate renewed');
      return describeCertificate(cert);
    });
  }

  /** One request or install at a time: a request never replaces the key an install is checking. */
  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }
}

function commonNameOf(cert: X509Certificate): string | undefined {
  return cert.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3);
}

function sameKey(cert: X509Certificate, keyPem: string): boolean {
  return cert.checkPrivateKey(createPrivateKey(keyPem));
}

/** True when the certificate file and the key file read and belong together. */
function filesMatch(certFile: string, keyFile: string): Promise<boolean> {
  return Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')])
    .then(([cert, key]) => sameKey(new X509Certificate(cert), key))
    .catch(() => false);
}

/** Renames the written `.next` files over the served ones, key first, and syncs their directories. */
async function switchToNext(files: CertificateFiles): Promise<void> {
  await rename(`${files.key}.next`, files.key);
  await rename(`${files.cert}.next`, files.cert);
  for (const dir of new Set([dirname(files.key), dirname(files.cert)])) await syncDirectory(dir);
}

const exists = (path: string) => stat(path).then(
  () => true,
  () => false,
);

/**
 * Completes or drops a renewal a crash interrupted, before the files are
 * read. Both `.next` files were written and synced before either rename, so
 * a `.next` key with a `.next` certificate for it is a whole renewal (the
 * operator may have recorded it): both are renamed into place. A `.next`
 * certificate alone means the key was switched already: it follows when it
 * matches that key. Anything else is dropped and the old pair stands.
 * Returns what it did, for the log.
 */
export async function finishInterruptedRenewal(files: CertificateFiles): Promise<'none' | 'dropped' | 'completed'> {
  const keyNext = `${files.key}.next`;
  const certNext = `${files.cert}.next`;
  if (await exists(keyNext)) {
    if (await filesMatch(certNext, keyNext)) {
      await switchToNext(files);
      return 'completed';
    }
    await rm(keyNext, { force: true });
    await rm(certNext, { force: true });
    return 'dropped';
  }
  if (!(await exists(certNext))) return 'none';
  if (!(await filesMatch(certNext, files.key))) {
    await rm(certNext, { force: true });
    return 'dropped';
  }
  await rename(certNext, files.cert);
  return 'completed';
}
