/** What every reconciler gets: API access, the informer caches, events, time. */
import type { Logger } from 'pino';
import type { Informer } from '../kube/informer.js';
import type { EventRecorder, ObjectClient } from '../kube/types.js';
import type { AgentConnections } from '../operator/agents/types.js';
import type { FenceRunner } from '../operator/fencing/types.js';
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
  /** Runs fence agents (power management of silent hosts). */
  fencing: FenceRunner;
  /** A Secret's decoded data (fence agent credentials); undefined when it does not exist. */
  readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Renew agent certificates this long before they expire; undefined or 0: when a third of the lifetime is left. */
  agentCertRenewBeforeMs?: number;
  /** When this replica started leading: fencing waits out a grace period from here. */
  leaderSince: Date;
  /** Current time (a seam for tests). */
  now(): Date;
}
