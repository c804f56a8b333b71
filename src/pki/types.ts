/**
 * The Manager's PKI as the operator uses it: one CA per Manager (namespace),
 * kept in a Secret, from which the operator's client certificate and the
 * agents' certificates (through bootstrap-token enrollment) are issued.
 */
import type { AgentClientTls } from '../agent/client/index.js';
import type { AgentCertificateSigner } from './manager-pki.js';

/** Secret type of a bootstrap token (like kubeadm's `bootstrap.kubernetes.io/token`). */
export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'drover.io/bootstrap-token';
/** Label on bootstrap-token Secrets. */
export const BOOTSTRAP_TOKEN_LABEL = 'drover.io/bootstrap-token';
/**
 * A bootstrap token is `<id>.<secret>`: id `[a-z0-9]{6}`, secret `[a-z0-9]{16}`,
 * as kubeadm's. Its Secret is named `bootstrap-token-<id>` with data keys
 * `token-id`, `token-secret`, optional `host` (the only Host it may enroll)
 * and optional `expiration` (RFC 3339).
 */
export const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

/** The CA of one Manager, as recorded in Manager status. */
export interface ManagerCa {
  /** Secret holding `tls.crt` and `tls.key` of the CA. */
  secretName: string;
  caCertPem: string;
  /** `sha256:<hex>` of the CA certificate's DER SubjectPublicKeyInfo (kubeadm's --discovery-token-ca-cert-hash). */
  caCertHash: string;
  /** notAfter of the CA certificate (RFC 3339). */
  notAfter: string;
}

/** The operator's side of the PKI (signing also renews agent certificates, see src/controllers/host-certificate.ts). */
export interface ManagerPkiProvider extends Pick<AgentCertificateSigner, 'signAgentCsr'> {
  /** Creates the CA Secret of the Manager in `namespace` when missing; returns it. */
  ensureCa(namespace: string, managerName: string): Promise<ManagerCa>;
  /**
   * The operator's client TLS material for agents in `namespace` (a client
   * certificate signed by that namespace's CA, kept in memory and renewed
   * before expiry); undefined when the namespace has no CA yet.
   */
  clientTls(namespace: string): Promise<AgentClientTls | undefined>;
}
