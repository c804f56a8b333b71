/**
 * Turns a failed agent call into a link state and a message for people.
 * The Host's conditions show the message as is, so it names the address and
 * says what to check, not just Node's error code.
 */
import { isIP } from 'node:net';
import { AgentApiError } from '../../api/agent/index.js';
import { errorMessage as messageOf } from '../../runtime/errors.js';
import type { AgentLinkState } from './types.js';

/** What a failed heartbeat says about the link. */
export interface FailureVerdict {
  state: Extract<AgentLinkState, 'Unreachable' | 'CertificateRejected'>;
  /** For people: what failed, where, and the underlying error. */
  message: string;
  /** Node's error code, when there was one (for logs). */
  code?: string;
}

/** `host:port`, with brackets around an IPv6 address. */
export function endpoint(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Certificate verification codes (OpenSSL's X509_V_ERR_* names as Node
 * reports them, plus Node's own host name check). Any of them means the
 * agent's certificate is not one the operator trusts for this address.
 */
const SERVER_CERT_CODES = new Set([
  'HOST_IDENTITY_MISMATCH',
  'CERT_RETIRED',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Fallback for errors without a code (or wrapped by something that dropped
 * it): the texts OpenSSL and Node use for the same failures, and TLS alerts
 * the agent sends when it refuses the operator's certificate.
 */
const CERT_TEXT =
  /certificate|self[- ]signed|unable to verify|altnames|unknown ca|bad certificate|certificate unknown|certificate required|CERT_|_CERT/i;

/** A TLS alert from the peer about our certificate (`ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`, `..._TLSV1_ALERT_UNKNOWN_CA`, ...). */
function isCertAlert(code: string): boolean {
  return /^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|CERTIFICATE_|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)/.test(code);
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Classifies a failure where no answer came (an `AgentApiError` with status
 * 0, or any transport error): certificate problems are `CertificateRejected`
 * (retrying will not help until someone fixes a certificate), everything
 * else is `Unreachable`.
 */
export function classifyFailure(error: unknown, address: string, port: number): FailureVerdict {
  const where = endpoint(address, port);
  const code = codeOf(error);
  const detail = messageOf(error);
  const verdict = (state: FailureVerdict['state'], summary: string): FailureVerdict => {
    const v: FailureVerdict = { state, message: `${summary}: ${detail}` };
    if (code !== undefined) v.code = code;
    return v;
  };

  if (code !== undefined && SERVER_CERT_CODES.has(code)) {
    switch (code) {
      case 'HOST_IDENTITY_MISMATCH':
        return verdict('CertificateRejected', `the agent at ${where} is another host`);
      case 'CERT_RETIRED':
        return verdict('CertificateRejected', `the agent at ${where} serves a retired certificate: a renewal replaced it (an old copy of the host's files, or someone else holding its old key); re-enroll the host if its files were restored from a backup`);
      case 'ERR_TLS_CERT_ALTNAME_INVALID':
      case 'HOSTNAME_MISMATCH':
        return verdict('CertificateRejected', `the agent's certificate at ${where} does not name ${address}`);
      case 'CERT_HAS_EXPIRED':
        return verdict('CertificateRejected', `the agent's certificate at ${where} has expired`);
      case 'CERT_NOT_YET_VALID':
        return verdict('CertificateRejected', `the agent's certificate at ${where} is not valid yet (check the clocks)`);
      default:
        return verdict('CertificateRejected', `the agent's certificate at ${where} is not signed by the Manager's CA`);
    }
  }
  if (code !== undefined && isCertAlert(code)) {
    return verdict('CertificateRejected', `the agent at ${where} refused the operator's client certificate`);
  }
  switch (code) {
    case 'ECONNREFUSED':
      return verdict('Unreachable', `the agent at ${where} refused the connection (nothing listening there)`);
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
      return verdict('Unreachable', `the agent at ${where} did not answer in time`);
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return verdict('Unreachable', `no route to the agent at ${where}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return verdict('Unreachable', `cannot resolve the host name of the agent at ${where}`);
    case 'ECONNRESET':
      // A Node agent refuses a client certificate by closing the connection
      // right after the handshake, which looks exactly like this; say so.
      return verdict(
        'Unreachable',
        `the agent at ${where} closed the connection (if this persists, the agent may not trust the operator's client certificate)`,
      );
    default:
      break;
  }
  if (CERT_TEXT.test(detail)) return verdict('CertificateRejected', `TLS with the agent at ${where} failed on a certificate`);
  return verdict('Unreachable', `cannot reach the agent at ${where}`);
}

/** True when the agent answered (with an error status): it is alive, whatever it said. */
export function isAnswer(error: unknown): error is AgentApiError {
  return error instanceof AgentApiError && error.status !== 0;
}
