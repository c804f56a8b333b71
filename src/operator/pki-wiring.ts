/**
 * Builds the operator's PKI pieces from a kubeconfig: the Secret store, the
 * {@link ManagerPki} the reconcilers get as `ctx.pki`, and the enrollment
 * server that signs agents' certificates with it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KubeSecretStore } from '../kube/secrets.js';
import type { EventRecorder, ObjectClient } from '../kube/types.js';
import { ManagerPki } from '../pki/manager-pki.js';
import type { SecretStore } from '../pki/secret-store.js';
import { hostLookupFromClient } from './enrollment/host-lookup.js';
import { EnrollmentServer, parseListenAddress } from './enrollment/server.js';

/** The operator's PKI: one per process, shared by reconcilers and enrollment. */
export interface OperatorPki {
  pki: ManagerPki;
  secrets: SecretStore;
}

/** Creates the Secret store and the ManagerPki over it. */
export function createOperatorPki(kubeConfig: KubeConfig, log: Logger): OperatorPki {
  const secrets = new KubeSecretStore(kubeConfig);
  return { secrets, pki: new ManagerPki({ store: secrets, log: log.child({ component: 'pki' }) }) };
}

/** The enrollment server on `listen` (`host:port`), not yet listening. */
export function createEnrollmentServer(o: {
  listen: string;
  pki: OperatorPki;
  client: ObjectClient;
  events: EventRecorder;
  log: Logger;
}): EnrollmentServer {
  const { host, port } = parseListenAddress(o.listen);
  const log = o.log.child({ component: 'enrollment' });
  return new EnrollmentServer({
    host,
    port,
    log,
    deps: { secrets: o.pki.secrets, hosts: hostLookupFromClient(o.client), signer: o.pki.pki, events: o.events, log },
  });
}
