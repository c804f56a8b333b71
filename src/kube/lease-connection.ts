/**
 * What the leader-election worker needs to reach the API server on its own:
 * the server's URL, its CA and this client's credentials, as plain data that
 * can cross to a worker thread (a KubeConfig object cannot).
 *
 * Covered: client certificates (files or inline), static bearer tokens, and
 * the in-cluster service account's token file (re-read on each request, as it
 * rotates). Exec plugins and other auth providers are not: for those the
 * operator keeps the election on its main thread.
 */
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';

/** Plain connection data for {@link HttpsLeaseStore}. */
export interface LeaseConnection {
  /** API server URL, e.g. https://10.0.0.1:6443. */
  server: string;
  /** PEM CA bundle to trust; absent means the system's CAs. */
  ca?: string;
  /** PEM client certificate and key. */
  cert?: string;
  key?: string;
  /** A static bearer token. */
  token?: string;
  /** A file holding the bearer token (read on each request). */
  tokenFile?: string;
  /** The name to verify the server's certificate against, when it differs from the URL's host. */
  tlsServerName?: string;
  /** Skip verifying the server's certificate (only when the kubeconfig says so). */
  insecureSkipTlsVerify?: boolean;
}

/** Either connection data, or why there is none. */
export type LeaseConnectionResult = { connection: LeaseConnection } | { unsupported: string };

function pem(data: string | undefined, file: string | undefined): string | undefined {
  if (data) return Buffer.from(data, 'base64').toString('utf8');
  if (file) return readFileSync(file, 'utf8');
  return undefined;
}

/** Extracts {@link LeaseConnection} from the kubeconfig's current context. */
export function leaseConnectionFrom(kc: KubeConfig): LeaseConnectionResult {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster) return { unsupported: 'the kubeconfig has no current cluster' };
  if (!cluster.server.startsWith('https://')) return { unsupported: `the API server ${cluster.server} is not https` };
  if (user?.exec) return { unsupported: 'exec credential plugins are not supported on the election thread' };
  const provider = user?.authProvider as { name?: string; config?: { tokenFile?: string } } | undefined;
  let tokenFile: string | undefined;
  if (provider) {
    if (provider.name !== 'tokenFile' || !provider.config?.tokenFile) return { unsupported: `auth provider ${provider.name ?? '?'} is not supported on the election thread` };
    tokenFile = provider.config.tokenFile;
  }
  if (user?.username || user?.password) return { unsupported: 'basic auth is not supported on the election thread' };
  if (user?.impersonateUser) return { unsupported: 'impersonation is not supported on the election thread' };
  if (cluster.proxyUrl) return { unsupported: 'a proxy is not supported on the election thread' };
  try {
    const ca = pem(cluster.caData, cluster.caFile);
    const cert = user ? pem(user.certData, user.certFile) : undefined;
    const connection: LeaseConnection = {
      server: cluster.server.replace(/\/+$/, ''),
      ...(ca ? { ca } : {}),
      ...(cert ? { cert, key: pem(user?.keyData, user?.keyFile) } : {}),
      ...(user?.token ? { token: user.token } : {}),
      ...(tokenFile ? { tokenFile } : {}),
      ...(cluster.skipTLSVerify ? { insecureSkipTlsVerify: true } : {}),
      ...(cluster.tlsServerName ? { tlsServerName: cluster.tlsServerName } : {}),
    };
    return { connection };
  } catch (error) {
    return { unsupported: `credentials cannot be read: ${(error as Error).message}` };
  }
}
