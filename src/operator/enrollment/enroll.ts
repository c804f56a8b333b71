/**
 * One enrollment, decided: token lookup, proof, expiry and host binding, the
 * Host and the CA, signing, then consuming the token. Knows nothing of HTTP;
 * failures are AgentApiErrors whose status and reason the server sends back.
 *
 * Order matters. The proof is checked before anything else about the token is
 * revealed, so a caller without the secret learns only that it is wrong.
 * Signing happens before the token is consumed so a bad CSR does not burn
 * it, and the delete carries uid+resourceVersion preconditions so exactly
 * one of several concurrent enrollments with one token gets a certificate.
 */
import type { Logger } from 'pino';
import { AgentApiError } from '../../api/agent/index.js';
import type { EventRecorder } from '../../kube/types.js';
import { bootstrapTokenSecretName, readBootstrapTokenSecret } from '../../pki/bootstrap-token.js';
import { answerProof, proofMatches, requestProof, type EnrollRequest, type EnrollResponse } from '../../pki/enrollment-protocol.js';
import { NoCaError, type AgentCertificateSigner } from '../../pki/manager-pki.js';
import { InvalidCsrError } from '../../pki/openssl.js';
import type { SecretStore } from '../../pki/secret-store.js';
import { sansForHost, type HostLookup } from './host-lookup.js';

/** What an enrollment needs. */
export interface EnrollmentDeps {
  secrets: SecretStore;
  hosts: HostLookup;
  signer: AgentCertificateSigner;
  /** Records `Enrolled` on the Host; optional (best effort). */
  events?: EventRecorder;
  log: Logger;
  now?: () => Date;
}

/** Same message for every token problem: the reason field is for the operator's own diagnosis. */
const TOKEN_REJECTED = 'bootstrap token rejected';

function tokenError(reason: 'TokenNotFound' | 'InvalidProof' | 'TokenExpired' | 'HostMismatch' | 'TokenUsed'): AgentApiError {
  return new AgentApiError(403, reason, TOKEN_REJECTED);
}

/** Runs one enrollment; resolves with the answer or rejects with an AgentApiError. */
export async function enroll(deps: EnrollmentDeps, request: EnrollRequest): Promise<EnrollResponse> {
  const { namespace, hostName, tokenId } = request;
  const log = deps.log.child({ namespace, host: hostName, tokenId });
  const refuse = (error: AgentApiError): never => {
    log.info({ reason: error.reason, status: error.status }, 'enrollment refused');
    throw error;
  };

  const secretName = bootstrapTokenSecretName(tokenId);
  const secret = await deps.secrets.get(namespace, secretName);
  const token = secret && readBootstrapTokenSecret(secret, tokenId);
  if (!secret || !token) return refuse(tokenError('TokenNotFound'));
  if (!proofMatches(requestProof(token.secret, request), request.proof)) return refuse(tokenError('InvalidProof'));
  const now = deps.now?.() ?? new Date();
  if (token.expiration !== undefined && token.expiration.getTime() <= now.getTime()) return refuse(tokenError('TokenExpired'));
  if (token.host !== undefined && token.host !== hostName) return refuse(tokenError('HostMismatch'));

  const host = await deps.hosts.getHost(namespace, hostName);
  if (!host) return refuse(new AgentApiError(404, 'HostNotFound', `Host ${namespace}/${hostName} does not exist`, 'hostName'));
  const sans = sansForHost(host);
  if (!sans) return refuse(new AgentApiError(422, 'InvalidHost', `Host ${namespace}/${hostName} has no usable spec.address`));

  const ca = await deps.signer.findCa(namespace);
  if (!ca) return refuse(new AgentApiError(503, 'NoCa', `namespace ${namespace} has no Manager CA yet; retry later`));
  if (request.caCertHash !== undefined && request.caCertHash !== ca.caCertHash) {
    return refuse(new AgentApiError(409, 'CaCertHashMismatch', `the Manager CA of ${namespace} is not ${request.caCertHash}`, 'caCertHash'));
  }

  let signed;
  try {
    signed = await deps.signer.signAgentCsr(namespace, hostName, request.csr, sans);
  } catch (error) {
    if (error instanceof InvalidCsrError) return refuse(new AgentApiError(400, 'InvalidField', `csr: ${error.message}`, 'csr'));
    if (error instanceof NoCaError) return refuse(new AgentApiError(503, 'NoCa', error.message));
    throw error;
  }

  // The delete is the commit point: whoever deletes this incarnation at this version wins.
  const consumed = await deps.secrets.delete(namespace, secretName, { uid: secret.uid, resourceVersion: secret.resourceVersion });
  if (!consumed) return refuse(tokenError('TokenUsed'));

  log.info({ notAfter: signed.notAfter }, 'host enrolled');
  deps.events?.event(host, 'Normal', 'Enrolled', `agent certificate issued with bootstrap token ${tokenId}, valid until ${signed.notAfter}`);
  return { certificate: signed.certPem, ca: signed.caPem, proof: answerProof(token.secret, signed.certPem, signed.caPem) };
}
