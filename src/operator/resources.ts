/** ResourceTypes of Drover's kinds, for the ObjectClient and informers. */
import { GROUP, VERSION, KINDS } from '../api/index.js';
import type { ResourceType } from '../kube/types.js';

function resource(kind: (typeof KINDS)[number]): ResourceType {
  return { group: GROUP, version: VERSION, plural: kind.plural, kind: kind.kind };
}

/** Drover's resource types by kind. */
export const Resources = {
  Manager: resource(KINDS[0]),
  Host: resource(KINDS[1]),
  StorageDomain: resource(KINDS[2]),
  VirtualMachine: resource(KINDS[3]),
  VirtualMachineMigration: resource(KINDS[4]),
} as const;

/** The finalizer Drover puts on objects whose deletion needs cleanup. */
export const FINALIZER = 'drover.io/finalizer';
