/** What every reconciler gets: API access, the informer caches, events, time. */
import type { Logger } from 'pino';
import type { Informer } from '../kube/informer.js';
import type { EventRecorder, ObjectClient } from '../kube/types.js';
import type { AgentConnections } from '../operator/agents/types.js';
import type { ManagerPkiProvider } from '../pki/types.js';

/** The informers of Drover's kinds, shared by all controllers. */
export interface Informers {
  managers: Informer;
  hosts: Informer;
  storageDomains: Informer;
  virtualMachines: Informer;
  migrations: Informer;
}

/** Dependencies of the reconcilers. */
export interface OperatorContext {
  client: ObjectClient;
  informers: Informers;
  events: EventRecorder;
  log: Logger;
  /** Links to the host agents (heartbeats, events, verbs). */
  agents: AgentConnections;
  /** The Managers' CAs and the operator's client certificates. */
  pki: ManagerPkiProvider;
  /** Current time (a seam for tests). */
  now(): Date;
}
