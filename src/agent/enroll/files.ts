/**
 * The agent's enrolled credentials on disk: `<stateDir>/pki/{cert.pem,
 * key.pem,ca.pem}`, owner-only, and the check that decides whether they are
 * still good enough to start without enrolling again.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { caCertHash } from '../../pki/ca-hash.js';

/** Clock skew tolerated on notBefore. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Paths of the agent's TLS files. */
export interface AgentCredentialFiles {
  cert: string;
  key: string;
  ca: string;
}

/** Where enrollment keeps its files under the agent's state directory. */
export function credentialPaths(stateDir: string): AgentCredentialFiles & { dir: string; pendingKey: string } {
  const dir = join(stateDir, 'pki');
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'ca.pem'), pendingKey: join(dir, 'pending-key.pem') };
}

/** True when `cert` names `hostName` as its common name. */
export function certNamesHost(cert: X509Certificate, hostName: string): boolean {
  return cert.subject.split('\n').includes(`CN=${hostName}`);
}

/** True when `cert` was signed by `ca`. */
export function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/**
 * Why the files cannot be used (missing, unreadable, expired, for another
 * host, not from the pinned CA, or a key that does not match), or undefined
 * when they can.
 */
export async function credentialProblem(
  files: AgentCredentialFiles,
  o: { hostName: string; caCertHash?: string; now: Date },
): Promise<string | undefined> {
  let texts: [string, string, string];
  try {
    texts = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8'), readFile(files.ca, 'utf8')]);
  } catch {
    return 'no enrolled certificate yet';
  }
  try {
    const [certPem, keyPem, caPem] = texts;
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    const t = o.now.getTime();
    // Five minutes of clock skew between the operator and this host are tolerated, as in verifying the answer.
    if (t < Date.parse(cert.validFrom) - CLOCK_SKEW_MS || t >= Date.parse(cert.validTo)) return `the certificate is not valid now (valid ${cert.validFrom} to ${cert.validTo})`;
    if (!certNamesHost(cert, o.hostName)) return `the certificate is for another host (${cert.subject})`;
    if (!issuedBy(cert, ca)) return 'the certificate was not issued by ca.pem';
    if (o.caCertHash !== undefined && caCertHash(ca) !== o.caCertHash) return 'ca.pem does not match --ca-cert-hash';
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'key.pem does not match the certificate';
    return undefined;
  } catch (error) {
    return `unreadable credentials: ${error instanceof Error ? error.message : String(error)}`;
  }
}
