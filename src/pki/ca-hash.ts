/** Pinning a CA by its public key, as kubeadm's `--discovery-token-ca-cert-hash`. */
import { X509Certificate, createHash } from 'node:crypto';

/** `sha256:<hex>`: the format of a CA certificate hash. */
export const CA_CERT_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/**
 * `sha256:` + hex SHA-256 of the certificate's DER SubjectPublicKeyInfo. The
 * public key, not the whole certificate: a CA re-issued with the same key
 * (new validity) keeps its hash, as with kubeadm.
 */
export function caCertHash(certPem: string | Buffer | X509Certificate): string {
  const cert = certPem instanceof X509Certificate ? certPem : new X509Certificate(certPem);
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
