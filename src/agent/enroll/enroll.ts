/**
 * Host enrollment, the agent's side (kubelet TLS bootstrapping's role): with
 * a bootstrap token, get a certificate from the Manager's CA for a key that
 * never leaves this host.
 *
 * Valid credentials on disk are used as they are, without contacting anyone.
 * Otherwise: a P-256 key and CSR (openssl), one `POST /v1/enroll` proving the
 * token secret by HMAC, and the answer accepted only if its HMAC proves it
 * came from a token holder, its CA matches the pin (when given), and the
 * certificate chains to that CA, names this host and matches our key.
 * Network errors and 5xx are retried (500 ms doubling to 15 s); a 4xx or a
 * refused answer is final.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errorBody } from '../../api/agent/index.js';
import { parseBootstrapToken } from '../../pki/bootstrap-token.js';
import { caCertHash, CA_CERT_HASH_PATTERN } from '../../pki/ca-hash.js';
import { answerProof, ENROLL_PATH, enrollResponseSchema, proofMatches, requestProof, type EnrollResponse } from '../../pki/enrollment-protocol.js';
import { createCsr, generateEcKey } from '../../pki/openssl.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { CLOCK_SKEW_MS, certNamesHost, credentialPaths, credentialProblem, issuedBy, type AgentCredentialFiles } from './files.js';
import { postJson } from './http.js';

/** Options of {@link enrollAgent}. */
export interface EnrollAgentOptions {
  /** `https://IP:PORT` of the enrollment server (the path is added). */
  url: string;
  /** `<id>.<secret>`. */
  token: string;
  /** The Host object's name: the certificate's CN. */
  hostName: string;
  /** The Host's (and Manager's) namespace. */
  namespace: string;
  stateDir: string;
  /** `sha256:<hex>` of the CA's public key, from Manager status.pki.caCertHash. */
  caCertHash?: string;
  log: Logger;
  /** First retry delay; default 500 ms. */
  initialDelayMs?: number;
  /** Longest retry delay; default 15 s. */
  maxDelayMs?: number;
  /** Per-request timeout; default 30 s. */
  requestTimeoutMs?: number;
  /** Stops retrying. */
  signal?: AbortSignal;
  now?: () => Date;
}

/** The enrolled files, and whether they were just issued. */
export interface EnrollResult extends AgentCredentialFiles {
  enrolled: boolean;
}

/** The server refused the enrollment (a 4xx), or its answer could not be trusted: retrying will not help. */
export class EnrollmentRefusedError extends Error {
  constructor(
    message: string,
    /** HTTP status, 0 when the answer itself was refused. */
    readonly status: number,
    /** The server's reason (`InvalidProof`, `TokenUsed`, ...) or ours (`AnswerProofMismatch`, ...). */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'EnrollmentRefusedError';
  }
}

/** An attempt that may succeed later (network error, 5xx). */
class RetryableError extends Error {}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('enrollment aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('enrollment aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Enrolls this host unless valid credentials exist; returns the files to serve mTLS with. */
export async function enrollAgent(o: EnrollAgentOptions): Promise<EnrollResult> {
  const now = o.now ?? (() => new Date());
  const paths = credentialPaths(o.stateDir);
  if (o.caCertHash !== undefined && !CA_CERT_HASH_PATTERN.test(o.caCertHash)) {
    throw new EnrollmentRefusedError('--ca-cert-hash must be sha256:<64 lowercase hex digits>', 0, 'InvalidCaCertHash');
  }
  const problem = await credentialProblem(paths, { hostName: o.hostName, caCertHash: o.caCertHash, now: now() });
  if (problem === undefined) {
    o.log.info({ dir: paths.dir }, 'using the enrolled certificate');
    return { cert: paths.cert, key: paths.key, ca: paths.ca, enrolled: false };
  }
  const token = parseBootstrapToken(o.token);
  const base = new URL(o.url);
  if (base.protocol !== 'https:') throw new EnrollmentRefusedError('--enroll-url must be https://', 0, 'InvalidUrl');
  const url = new URL(ENROLL_PATH, base);
  o.log.info({ url: url.href, host: o.hostName, namespace: o.namespace, why: problem }, 'enrolling');

  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await chmod(paths.dir, 0o700);
  // One key for every attempt: it stays on this host and becomes key.pem on success.
  if (!(await stat(paths.pendingKey).catch(() => undefined))) await generateEcKey(paths.pendingKey);
  const keyPem = await readFile(paths.pendingKey, 'utf8');
  const csr = await createCsr(paths.pendingKey, { commonName: o.hostName });
  const request = {
    tokenId: token.id,
    hostName: o.hostName,
    namespace: o.namespace,
    csr,
    proof: requestProof(token.secret, { csr, hostName: o.hostName, namespace: o.namespace }),
    ...(o.caCertHash !== undefined ? { caCertHash: o.caCertHash } : {}),
  };

  let delay = o.initialDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await attemptEnroll(url, request, o.requestTimeoutMs ?? 30_000);
      verifyAnswer(answer, { tokenSecret: token.secret, keyPem, hostName: o.hostName, caCertHash: o.caCertHash, now: now() });
      await writeFileAtomic(paths.ca, answer.ca, 0o600);
      await writeFileAtomic(paths.key, keyPem, 0o600);
      // cert.pem last: until it is in place, the set on disk is not "valid" and a restart enrolls again.
      await writeFileAtomic(paths.cert, answer.certificate, 0o600);
      await rm(paths.pendingKey, { force: true });
      const cert = new X509Certificate(answer.certificate);
      o.log.info({ notAfter: new Date(cert.validTo).toISOString(), caCertHash: caCertHash(answer.ca) }, 'enrolled');
      return { cert: paths.cert, key: paths.key, ca: paths.ca, enrolled: true };
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error;
      o.log.warn({ attempt, retryInMs: delay, err: error.message }, 'enrollment attempt failed, retrying');
      await sleep(delay, o.signal);
      delay = Math.min(delay * 2, o.maxDelayMs ?? 15_000);
    }
  }
}

/** One request; classifies failures as retryable or final. */
async function attemptEnroll(url: URL, body: unknown, timeoutMs: number): Promise<EnrollResponse> {
  let answer;
  try {
    answer = await postJson(url, body, timeoutMs);
  } catch (error) {
    throw new RetryableError(error instanceof Error ? error.message : String(error));
  }
  if (answer.status >= 500 || answer.status === 0) throw new RetryableError(`${describe(answer.status, answer.text).message}`);
  if (answer.status !== 200) {
    const { reason, message } = describe(answer.status, answer.text);
    throw new EnrollmentRefusedError(`enrollment refused (HTTP ${answer.status} ${reason}): ${message}`, answer.status, reason);
  }
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    throw new EnrollmentRefusedError('the enrollment answer is not JSON', 0, 'InvalidAnswer');
  }
  const parsed = enrollResponseSchema.safeParse(json);
  if (!parsed.success) throw new EnrollmentRefusedError('the enrollment answer is malformed', 0, 'InvalidAnswer');
  return parsed.data;
}

/** Reason and message of an error answer. */
function describe(status: number, text: string): { reason: string; message: string } {
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) return { reason: parsed.data.error.reason, message: parsed.data.error.message };
  } catch {
    /* not JSON */
  }
  return { reason: 'HttpError', message: `HTTP ${status}` };
}

/** Refuses an answer that did not come from a token holder, is not from the pinned CA, or is not for us. */
function verifyAnswer(
  answer: EnrollResponse,
  o: { tokenSecret: string; keyPem: string; hostName: string; caCertHash?: string; now: Date },
): void {
  const refuse = (reason: string, message: string): never => {
    throw new EnrollmentRefusedError(`refusing the enrollment answer: ${message}`, 0, reason);
  };
  if (!proofMatches(answerProof(o.tokenSecret, answer.certificate, answer.ca), answer.proof)) {
    refuse('AnswerProofMismatch', 'its proof does not match the token (not from the Manager?)');
  }
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(answer.certificate);
    ca = new X509Certificate(answer.ca);
  } catch {
    return refuse('InvalidAnswer', 'the certificate or CA does not parse');
  }
  if (o.caCertHash !== undefined && caCertHash(ca) !== o.caCertHash) {
    refuse('CaCertHashMismatch', `the CA's hash is ${caCertHash(ca)}, not the pinned ${o.caCertHash}`);
  }
  if (!ca.ca) refuse('InvalidAnswer', 'the CA certificate is not a CA');
  if (!issuedBy(cert, ca)) refuse('InvalidAnswer', 'the certificate was not issued by the CA');
  if (!cert.checkPrivateKey(createPrivateKey(o.keyPem))) refuse('KeyMismatch', 'the certificate is not for our key');
  if (!certNamesHost(cert, o.hostName)) refuse('InvalidAnswer', `the certificate is for ${cert.subject}, not CN=${o.hostName}`);
  const t = o.now.getTime();
  if (t < Date.parse(cert.validFrom) - CLOCK_SKEW_MS || t >= Date.parse(cert.validTo)) {
    refuse('InvalidAnswer', `the certificate is not valid now (valid ${cert.validFrom} to ${cert.validTo})`);
  }
}
