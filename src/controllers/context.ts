/** What every reconciler gets: API access, the informer caches, events, time. */
import type { Logger } from 'pino';
import type { Informer } from '../kube/informer.js';
import type { EventRecorder, ObjectClient } from '../kube/types.js';

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
  /** Current time (a seam for tests). */
  now(): Date;
}
