/**
 * Authentication and authorization questions asked of the API server, the
 * way the kubelet asks them for its own API: a TokenReview turns a bearer
 * token into a user, a SubjectAccessReview says whether that user may do
 * something. Tokens are sent to the API server only, never logged.
 */
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { toApiError } from './client.js';

/** A user as the API server knows it. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** What a SubjectAccessReview asks about: one verb on one namespaced resource. */
export interface ResourceAccess {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name: string;
}

/** The verdict of a SubjectAccessReview. */
export interface AccessVerdict {
  allowed: boolean;
  /** The authorizer's reason, when it gave one. */
  reason?: string;
}

/** TokenReview and SubjectAccessReview (the operator needs `create` on both, cluster-wide). */
export interface AccessReviewer {
  /** The user a bearer token belongs to, or undefined when the API server does not accept it. */
  authenticate(token: string): Promise<UserInfo | undefined>;
  /** Whether `user` may do `access`. */
  authorize(user: UserInfo, access: ResourceAccess): Promise<AccessVerdict>;
}

/** {@link AccessReviewer} on client-node. */
export class KubeAccessReviewer implements AccessReviewer {
  private readonly authn: AuthenticationV1Api;
  private readonly authz: AuthorizationV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.authn = kubeConfig.makeApiClient(AuthenticationV1Api);
    this.authz = kubeConfig.makeApiClient(AuthorizationV1Api);
  }

  async authenticate(token: string): Promise<UserInfo | undefined> {
    try {
      const review = await this.authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
      const status = review.status;
      if (!status?.authenticated || !status.user?.username) return undefined;
      const user: UserInfo = { username: status.user.username, groups: status.user.groups ?? [] };
      if (status.user.uid) user.uid = status.user.uid;
      if (status.user.extra) user.extra = status.user.extra;
      return user;
    } catch (error) {
      throw toApiError(error);
    }
  }

  async authorize(user: UserInfo, access: ResourceAccess): Promise<AccessVerdict> {
    try {
      const review = await this.authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            groups: user.groups,
            ...(user.uid !== undefined ? { uid: user.uid } : {}),
            ...(user.extra !== undefined ? { extra: user.extra } : {}),
            resourceAttributes: { ...access },
          },
        },
      });
      const verdict: AccessVerdict = { allowed: review.status?.allowed === true };
      if (review.status?.reason) verdict.reason = review.status.reason;
      return verdict;
    } catch (error) {
      throw toApiError(error);
    }
  }
}
