/**
 * Bootstrap tokens (kubeadm's format): `<id>.<secret>`, kept in a Secret
 * `bootstrap-token-<id>` of type `drover.io/bootstrap-token` in the namespace
 * of the Manager the host joins. The id is public (it names the Secret); the
 * secret never travels: enrollment proves knowledge of it with HMACs.
 */
import { randomInt } from 'node:crypto';
import { metaTime } from '../api/conditions.js';
import { BOOTSTRAP_TOKEN_LABEL, BOOTSTRAP_TOKEN_PATTERN, BOOTSTRAP_TOKEN_SECRET_TYPE } from './types.js';
import type { NewSecret, StoredSecret } from './secret-store.js';

/** A token's two halves. */
export interface BootstrapToken {
  /** `[a-z0-9]{6}`, public. */
  id: string;
  /** `[a-z0-9]{16}`, never logged, never sent. */
  secret: string;
}

/** A token as its Secret describes it. */
export interface BootstrapTokenRecord extends BootstrapToken {
  /** The only Host this token may enroll, when bound. */
  host?: string;
  /** When it stops working, when it expires at all. */
  expiration?: Date;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomString(length: number): string {
  // randomInt is uniform (no modulo bias) and from the CSPRNG.
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** A fresh random token. */
export function generateBootstrapToken(): BootstrapToken {
  return { id: randomString(6), secret: randomString(16) };
}

/** `<id>.<secret>`. */
export function formatBootstrapToken(token: BootstrapToken): string {
  return `${token.id}.${token.secret}`;
}

/** Parses `<id>.<secret>`; throws (without echoing the input) when malformed. */
export function parseBootstrapToken(text: string): BootstrapToken {
  const match = BOOTSTRAP_TOKEN_PATTERN.exec(text.trim());
  if (!match) throw new Error('a bootstrap token must look like <6 of [a-z0-9]>.<16 of [a-z0-9]>');
  return { id: match[1]!, secret: match[2]! };
}

/** The name of the Secret holding token `id`. */
export function bootstrapTokenSecretName(id: string): string {
  return `bootstrap-token-${id}`;
}

/** The Secret to create for a token. */
export function bootstrapTokenSecret(record: BootstrapTokenRecord): NewSecret {
  const data: Record<string, string> = { 'token-id': record.id, 'token-secret': record.secret };
  if (record.host !== undefined) data['host'] = record.host;
  if (record.expiration !== undefined) data['expiration'] = metaTime(record.expiration);
  return {
    name: bootstrapTokenSecretName(record.id),
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    labels: { [BOOTSTRAP_TOKEN_LABEL]: 'true' },
    data,
  };
}

/**
 * The token a Secret holds; undefined when the Secret is not a well-formed
 * bootstrap token for `id` (wrong type, missing or mismatched fields, an
 * unparseable expiration), which callers treat as no token at all.
 */
export function readBootstrapTokenSecret(secret: StoredSecret, id: string): BootstrapTokenRecord | undefined {
  if (secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE) return undefined;
  const { 'token-id': tokenId, 'token-secret': tokenSecret, host, expiration } = secret.data;
  if (tokenId !== id || tokenSecret === undefined || !BOOTSTRAP_TOKEN_PATTERN.test(`${tokenId}.${tokenSecret}`)) return undefined;
  const record: BootstrapTokenRecord = { id, secret: tokenSecret };
  if (host !== undefined && host !== '') record.host = host;
  if (expiration !== undefined && expiration !== '') {
    const at = new Date(expiration);
    // An expiration nobody can read must not mean "never expires".
    if (Number.isNaN(at.getTime())) return undefined;
    record.expiration = at;
  }
  return record;
}
