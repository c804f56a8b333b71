/**
 * The enrollment protocol, shared by the operator's enrollment server and the
 * agent: a host proves it holds a bootstrap token's secret without sending
 * it, and the answer proves it came from someone holding the same secret.
 *
 * `POST /v1/enroll` `{tokenId, hostName, namespace, csr, proof, caCertHash?}`,
 * proof = hex HMAC-SHA256(tokenSecret, csr + "\n" + hostName + "\n" + namespace).
 * 200 `{certificate, ca, proof}`, proof = hex HMAC-SHA256(tokenSecret, certificate + ca).
 * Errors are `{error: {code, reason, message, field?}}` (the agent API's shape).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { CA_CERT_HASH_PATTERN } from './ca-hash.js';
import { MAX_CSR_BYTES } from './openssl.js';

/** The enrollment endpoint. */
export const ENROLL_PATH = '/v1/enroll';
/** Largest request body the server reads. */
export const ENROLL_BODY_LIMIT_BYTES = 64 * 1024;

const hexProof = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (HMAC-SHA256)');

/** The enrollment request. */
export const enrollRequestSchema = z.strictObject({
  tokenId: z.string().regex(/^[a-z0-9]{6}$/, 'must be 6 of [a-z0-9]'),
  /**
   * The Host object's name (a DNS subdomain, as every Kubernetes name), at
   * most 64 characters: it becomes the certificate's common name.
   */
  hostName: z
    .string()
    .max(64, 'must be at most 64 characters (it becomes the certificate common name)')
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a Kubernetes object name'),
  namespace: z
    .string()
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name'),
  csr: z.string().min(1).max(MAX_CSR_BYTES),
  proof: hexProof,
  /**
   * The CA the agent pins (optional): the server refuses before consuming the
   * token when its CA differs, so a mistyped pin does not burn a token. The
   * agent checks the answer's CA itself either way.
   */
  caCertHash: z.string().regex(CA_CERT_HASH_PATTERN, 'must be sha256:<64 hex digits>').optional(),
});
/** An enrollment request. */
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

/** The enrollment answer. */
export const enrollResponseSchema = z.object({
  /** The host's certificate (PEM). */
  certificate: z.string().min(1),
  /** The Manager's CA certificate (PEM). */
  ca: z.string().min(1),
  proof: hexProof,
});
/** An enrollment answer. */
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

function hmac(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}

/** The request's proof of holding the token secret. */
export function requestProof(tokenSecret: string, r: { csr: string; hostName: string; namespace: string }): string {
  return hmac(tokenSecret, `${r.csr}\n${r.hostName}\n${r.namespace}`);
}

/** The answer's proof of holding the token secret. */
export function answerProof(tokenSecret: string, certificate: string, ca: string): string {
  return hmac(tokenSecret, certificate + ca);
}

/** Compares a received proof with the expected one in constant time. */
export function proofMatches(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received, 'utf8');
  // Lengths are public (always 64 for a well-formed proof); only contents are compared in constant time.
  return a.length === b.length && timingSafeEqual(a, b);
}
