/**
 * The JSON verbs of the route table, each bound to the service that
 * implements it. Inputs arrive validated (params and body parsed by the
 * route's schemas); answers are validated again before they are sent.
 */
import type { z } from 'zod';
import type {
  AgentCertificate,
  AGENT_ROUTES,
  AgentRoute,
  AgentRouteId,
  HostCapabilitiesResponse,
  HostedEngineMaintenanceRequest,
  HostedEngineStatus,
  HostStatsResponse,
  StorageHeartbeatList,
  VmInfo,
} from '../../api/agent/index.js';
import { AgentApiError } from '../../api/agent/index.js';
import type { VmService } from '../vms/service.js';
import type { StorageVerbs } from './storage-verbs.js';

type Routes = typeof AGENT_ROUTES;

/** Ids of the routes answered with one JSON document (all but the event stream). */
export type JsonRouteId = Exclude<AgentRouteId, 'events'>;

/** What a handler gets: parsed path parameters and body. */
export interface HandlerInput<R extends AgentRoute> {
  params: z.output<R['params']>;
  body: R['body'] extends z.ZodType ? z.output<R['body']> : undefined;
}

/** A handler of one route. */
export type RouteHandler<R extends AgentRoute> = (input: HandlerInput<R>) => Promise<z.input<R['response']>>;

/** One handler per JSON route. */
export type AgentHandlers = { [K in JsonRouteId]: RouteHandler<Routes[K]> };

/** The services behind the handlers. */
export interface HandlerServices {
  vms: VmService;
  storage: StorageVerbs;
  capabilities: () => Promise<HostCapabilitiesResponse>;
  stats: () => Promise<HostStatsResponse>;
  /** Every host's storage heartbeat on a domain, as this agent sees them. */
  storageHeartbeats: (name: string) => Promise<StorageHeartbeatList>;
  /** Adds `leaseProtected` to VM answers (default: false for all, no lock manager observed). */
  leaseState?: (vms: VmInfo[]) => Promise<VmInfo[]>;
  /** Renewal of the agent's own certificate (absent: the agent cannot renew, e.g. in-process tests). */
  certificates?: {
    csr: () => Promise<{ csr: string }>;
    install: (cert: string) => Promise<AgentCertificate>;
  };
  /** The hosted-engine HA role, on self-hosted engine nodes only (`drover agent --hosted-engine`). */
  hostedEngine?: {
    status: () => Promise<HostedEngineStatus>;
    setMaintenance: (change: HostedEngineMaintenanceRequest) => Promise<HostedEngineStatus>;
  };
}

function certificatesOf(s: HandlerServices): NonNullable<HandlerServices['certificates']> {
  if (s.certificates === undefined) throw new AgentApiError(404, 'CertificateRotationUnavailable', 'this agent does not renew its certificate');
  return s.certificates;
}

function hostedEngineOf(s: HandlerServices): NonNullable<HandlerServices['hostedEngine']> {
  if (s.hostedEngine === undefined) {
    throw new AgentApiError(404, 'HostedEngineNotConfigured', 'this host is not a self-hosted engine node (the agent runs without --hosted-engine)');
  }
  return s.hostedEngine;
}

/** Binds every JSON route to its service. */
export function createHandlers(s: HandlerServices): AgentHandlers {
  const annotate = s.leaseState ?? (async (vms: VmInfo[]) => vms.map((vm) => ({ ...vm, leaseProtected: false })));
  const vm = async (answer: Promise<VmInfo>): Promise<VmInfo> => (await annotate([await answer]))[0]!;
  return {
    hostCapabilities: () => s.capabilities(),
    hostStats: () => s.stats(),
    hostCertificateRequest: () => certificatesOf(s).csr(),
    hostCertificateInstall: ({ body }) => certificatesOf(s).install(body.cert),

    storageList: () => s.storage.list(),
    storageGet: ({ params }) => s.storage.get(params.name),
    storageConnect: ({ params, body }) => s.storage.connect(params.name, body.connection),
    storageDisconnect: ({ params }) => s.storage.disconnect(params.name),
    storageFormat: ({ params, body }) => s.storage.format(params.name, body),
    storageHeartbeats: ({ params }) => s.storageHeartbeats(params.name),

    volumeList: ({ params }) => s.storage.volumes(params.name),
    volumeGet: ({ params }) => s.storage.volume(params.name, params.volume),
    volumeCreate: ({ params, body }) => s.storage.createVolume(params.name, params.volume, body.sizeBytes, body.format),
    volumeResize: ({ params, body }) => s.storage.resizeVolume(params.name, params.volume, body.sizeBytes),
    volumeDelete: ({ params }) => s.storage.deleteVolume(params.name, params.volume),

    vmList: async () => ({ items: await annotate((await s.vms.list()).items) }),
    vmGet: ({ params }) => vm(s.vms.get(params.uid)),
    vmDefine: ({ params, body }) => vm(s.vms.define(params.uid, body)),
    vmUndefine: ({ params }) => s.vms.undefine(params.uid),
    vmStart: ({ params }) => vm(s.vms.start(params.uid)),
    vmStop: ({ params, body }) => vm(s.vms.stop(params.uid, body.timeoutSeconds)),
    vmDestroy: ({ params }) => vm(s.vms.destroy(params.uid)),
    vmPause: ({ params }) => vm(s.vms.pause(params.uid)),
    vmResume: ({ params }) => vm(s.vms.resume(params.uid)),
    vmMigrate: ({ params, body }) => s.vms.migrate(params.uid, body),
    vmMigrationGet: ({ params }) => s.vms.migration(params.uid),
    vmMigrationCancel: ({ params }) => s.vms.cancelMigration(params.uid),

    hostedEngineStatus: () => hostedEngineOf(s).status(),
    hostedEngineMaintenance: ({ body }) => hostedEngineOf(s).setMaintenance(body),
  };
}
