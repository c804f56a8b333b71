/**
 * Who is asking for a console, decided as the kubelet decides it for its
 * own API: a bearer token is reviewed by the API server (TokenReview); a
 * client certificate counts when it was verified against the cluster's
 * client CA (`--client-ca-file`), with the user from its CN and the groups
 * from its O fields, as kube-apiserver reads them.
 *
 * @packageDocumentation
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { AccessReviewer, UserInfo } from '../../kube/access-review.js';

/** The result of authentication: a user, or a one-line reason for 401. */
export type Authentication = { user: UserInfo; method: 'token' | 'certificate' } | { error: string };

/** The bearer token of an Authorization header, if it has one. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headers['authorization'];
  const match = typeof value === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1];
}

/** The user a verified client certificate names: CN → username, each O → a group. */
export function userFromCertificate(cert: Pick<PeerCertificate, 'subject'>): UserInfo | undefined {
  const subject = cert.subject as unknown as Record<string, string | string[] | undefined> | undefined;
  const cn = subject?.['CN'];
  const username = Array.isArray(cn) ? cn[0] : cn;
  if (!username) return undefined;
  const o = subject?.['O'];
  return { username, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
}

/**
 * Authenticates a request: a bearer token first (as kube-apiserver does when
 * both are present), then a client certificate the TLS layer verified.
 */
export async function authenticate(headers: IncomingHttpHeaders, socket: TLSSocket, reviewer: AccessReviewer): Promise<Authentication> {
  const token = bearerToken(headers);
  if (token !== undefined) {
    const user = await reviewer.authenticate(token);
    return user ? { user, method: 'token' } : { error: 'the bearer token was not accepted by the API server' };
  }
  if (socket.authorized) {
    const user = userFromCertificate(socket.getPeerCertificate());
    if (user) return { user, method: 'certificate' };
  }
  return { error: 'no credentials: send a bearer token or a client certificate from the cluster\'s client CA' };
}
