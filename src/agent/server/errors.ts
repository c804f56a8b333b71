/**
 * Mapping failures to HTTP answers. Driver and storage errors carry a kind
 * the operator must be able to act on; `LeaseHeld` keeps its own reason
 * although it shares 409 with `Conflict`, because "another host still holds
 * this VM's lease" is the proof the failover logic needs.
 */
import { AgentApiError, type AgentErrorReason } from '../../api/agent/index.js';
import { InvalidDomainSpecError } from '../../hypervisor/domainxml/index.js';
import type { DriverErrorKind } from '../../hypervisor/driver.js';

/** HTTP status of each driver error kind. */
export const DRIVER_ERROR_STATUS: Readonly<Record<DriverErrorKind, number>> = {
  NotFound: 404,
  InvalidSpec: 422,
  Conflict: 409,
  LeaseHeld: 409,
  Unavailable: 503,
  Failed: 500,
};

const KINDS = new Set<string>(Object.keys(DRIVER_ERROR_STATUS));

/**
 * True for a DriverError, or any error that carries a driver error kind
 * (the storage manager may throw its own class with the same kinds).
 */
export function errorKind(error: unknown): DriverErrorKind | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const kind = (error as { kind?: unknown }).kind;
  return typeof kind === 'string' && KINDS.has(kind) ? (kind as DriverErrorKind) : undefined;
}

/** Field names of the hypervisor-level DomainSpec, as the agent-level VM spec calls them. */
function vmSpecField(domainSpecField: string): string {
  if (domainSpecField === 'hypervisor') return 'acceleration';
  if (domainSpecField === 'memoryMiB' || domainSpecField === 'name' || domainSpecField === 'uid') return domainSpecField;
  return domainSpecField
    .replace(/^interfaces\[/, 'nics[')
    .replace(/^disks\[(\d+)\]\.(path|format)$/, 'disks[$1].volume');
}

/**
 * Any thrown value as an API error. Unknown errors become a 500 whose
 * message says nothing about internals; the caller logs the original.
 */
export function toApiError(error: unknown): AgentApiError {
  if (error instanceof AgentApiError) return error;
  if (error instanceof InvalidDomainSpecError) {
    const first = error.errors[0] ?? 'invalid domain spec';
    const m = /^([A-Za-z0-9_.[\]]+): /.exec(first);
    return new AgentApiError(422, 'InvalidSpec', error.errors.join('; '), m?.[1] === undefined ? undefined : vmSpecField(m[1]));
  }
  const kind = errorKind(error);
  if (kind !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    return new AgentApiError(DRIVER_ERROR_STATUS[kind], kind satisfies AgentErrorReason, message);
  }
  return new AgentApiError(500, 'Internal', 'internal error (see the agent log)');
}
