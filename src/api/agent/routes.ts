/**
 * The route table of the agent API: one entry per verb with its method,
 * path template, and the schemas of path parameters, body and answer. The
 * agent's router and the operator's client are both driven by it, so the
 * two can never disagree about a path or a shape.
 */
import { z } from 'zod';
import { emptyRequest } from './common.js';
import { agentEvent } from './events.js';
import { agentCertificate, certificateRequest, hostCapabilities, hostStats, installCertificateRequest } from './host.js';
import { hostedEngineMaintenanceRequest, hostedEngineStatus } from './hosted-engine.js';
import { migrateVmRequest, migrationStatus } from './migration.js';
import {
  connectStorageRequest,
  createVolumeRequest,
  deleteVolumeResponse,
  disconnectStorageResponse,
  formatStorageRequest,
  resizeVolumeRequest,
  storageDomainList,
  storageDomainParams,
  storageDomainStatus,
  storageHeartbeatList,
  storageMetadata,
  volumeInfo,
  volumeList,
  volumeParams,
} from './storage.js';
import { stopVmRequest, undefineVmResponse, vmInfo, vmList, vmParams, vmSpec } from './vms.js';

/** HTTP methods the API uses. */
export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** One verb of the API. */
export interface AgentRoute<
  P extends z.ZodType = z.ZodType,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends z.ZodType = z.ZodType,
> {
  method: HttpMethod;
  /** Path template; `:name` segments are parameters. */
  path: string;
  params: P;
  /** Request body schema; undefined = the verb reads no body. */
  body: B;
  /** Answer schema (for `stream` routes: the schema of each event). */
  response: R;
  /** Status of a successful answer. */
  status: 200 | 202;
  /** Server-Sent Events instead of one JSON answer. */
  stream?: true;
}

const noParams = z.strictObject({});

function route<P extends z.ZodType, B extends z.ZodType | undefined, R extends z.ZodType>(
  r: AgentRoute<P, B, R>,
): AgentRoute<P, B, R> {
  return r;
}

function vmVerb<B extends z.ZodType>(verb: string, body: B) {
  return route({ method: 'POST', path: `/v1/vms/:uid/${verb}`, params: vmParams, body, response: vmInfo, status: 200 });
}

/** Every route of `/v1/`, keyed by a stable id. */
export const AGENT_ROUTES = {
  hostCapabilities: route({ method: 'GET', path: '/v1/host/capabilities', params: noParams, body: undefined, response: hostCapabilities, status: 200 }),
  hostStats: route({ method: 'GET', path: '/v1/host/stats', params: noParams, body: undefined, response: hostStats, status: 200 }),
  hostCertificateRequest: route({ method: 'POST', path: '/v1/host/certificate/csr', params: noParams, body: emptyRequest, response: certificateRequest, status: 200 }),
  hostCertificateInstall: route({ method: 'PUT', path: '/v1/host/certificate', params: noParams, body: installCertificateRequest, response: agentCertificate, status: 200 }),

  storageList: route({ method: 'GET', path: '/v1/storage/domains', params: noParams, body: undefined, response: storageDomainList, status: 200 }),
  storageGet: route({ method: 'GET', path: '/v1/storage/domains/:name', params: storageDomainParams, body: undefined, response: storageDomainStatus, status: 200 }),
  storageConnect: route({ method: 'PUT', path: '/v1/storage/domains/:name', params: storageDomainParams, body: connectStorageRequest, response: storageDomainStatus, status: 200 }),
  storageDisconnect: route({ method: 'DELETE', path: '/v1/storage/domains/:name', params: storageDomainParams, body: undefined, response: disconnectStorageResponse, status: 200 }),
  storageHeartbeats: route({ method: 'GET', path: '/v1/storage/domains/:name/heartbeats', params: storageDomainParams, body: undefined, response: storageHeartbeatList, status: 200 }),
  storageFormat: route({ method: 'POST', path: '/v1/storage/domains/:name/format', params: storageDomainParams, body: formatStorageRequest, response: storageMetadata, status: 200 }),

  volumeList: route({ method: 'GET', path: '/v1/storage/domains/:name/volumes', params: storageDomainParams, body: undefined, response: volumeList, status: 200 }),
  volumeGet: route({ method: 'GET', path: '/v1/storage/domains/:name/volumes/:volume', params: volumeParams, body: undefined, response: volumeInfo, status: 200 }),
  volumeCreate: route({ method: 'PUT', path: '/v1/storage/domains/:name/volumes/:volume', params: volumeParams, body: createVolumeRequest, response: volumeInfo, status: 200 }),
  volumeResize: route({ method: 'POST', path: '/v1/storage/domains/:name/volumes/:volume/resize', params: volumeParams, body: resizeVolumeRequest, response: volumeInfo, status: 200 }),
  volumeDelete: route({ method: 'DELETE', path: '/v1/storage/domains/:name/volumes/:volume', params: volumeParams, body: undefined, response: deleteVolumeResponse, status: 200 }),

  vmList: route({ method: 'GET', path: '/v1/vms', params: noParams, body: undefined, response: vmList, status: 200 }),
  vmGet: route({ method: 'GET', path: '/v1/vms/:uid', params: vmParams, body: undefined, response: vmInfo, status: 200 }),
  vmDefine: route({ method: 'PUT', path: '/v1/vms/:uid', params: vmParams, body: vmSpec, response: vmInfo, status: 200 }),
  vmUndefine: route({ method: 'DELETE', path: '/v1/vms/:uid', params: vmParams, body: undefined, response: undefineVmResponse, status: 200 }),
  vmStart: vmVerb('start', emptyRequest),
  vmStop: vmVerb('stop', stopVmRequest),
  vmDestroy: vmVerb('destroy', emptyRequest),
  vmPause: vmVerb('pause', emptyRequest),
  vmResume: vmVerb('resume', emptyRequest),
  vmMigrate: route({ method: 'POST', path: '/v1/vms/:uid/migrate', params: vmParams, body: migrateVmRequest, response: migrationStatus, status: 202 }),
  vmMigrationGet: route({ method: 'GET', path: '/v1/vms/:uid/migration', params: vmParams, body: undefined, response: migrationStatus, status: 200 }),
  vmMigrationCancel: route({ method: 'DELETE', path: '/v1/vms/:uid/migration', params: vmParams, body: undefined, response: migrationStatus, status: 200 }),

  hostedEngineStatus: route({ method: 'GET', path: '/v1/hosted-engine', params: noParams, body: undefined, response: hostedEngineStatus, status: 200 }),
  hostedEngineMaintenance: route({ method: 'PUT', path: '/v1/hosted-engine/maintenance', params: noParams, body: hostedEngineMaintenanceRequest, response: hostedEngineStatus, status: 200 }),

  events: route({ method: 'GET', path: '/v1/events', params: noParams, body: undefined, response: agentEvent, status: 200, stream: true }),
} as const;

/** Id of a route. */
export type AgentRouteId = keyof typeof AGENT_ROUTES;

/** Fills a path template; every parameter is percent-encoded. */
export function buildPath(template: string, params: Record<string, string>): string {
  return template.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(value);
  });
}
