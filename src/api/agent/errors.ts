/**
 * The error body of the agent API and the error class both sides throw.
 *
 * Every 4xx/5xx answer is `{ "error": { code, reason, message, field? } }`:
 * `code` repeats the HTTP status, `reason` is a stable machine-readable word
 * the operator switches on (e.g. `LeaseHeld` versus `Conflict`, both 409),
 * `message` is for people, and `field` names the offending request field
 * (`disks[1].volume`, `sizeBytes`, or a path parameter such as `uid`).
 */
import { z } from 'zod';

/** Reasons the agent answers with. Clients must accept reasons not listed here (newer agents). */
export const AGENT_ERROR_REASONS = [
  // 400: the request itself is wrong.
  'MalformedJSON',
  'UnknownField',
  'MissingField',
  'InvalidField',
  'StorageDomainNotConnected',
  'VolumeNotFound',
  'FileNotFound',
  // 403: the domain exists but is not Drover's (an orphan or foreign domain).
  'NotOwned',
  // 404 / 405 / 413 / 415
  'NotFound',
  'MethodNotAllowed',
  'PayloadTooLarge',
  'UnsupportedMediaType',
  // 409: the request conflicts with the state of the host.
  'Conflict',
  'LeaseHeld',
  'OwnerMismatch',
  'NameInUse',
  'VmRunning',
  'VmNotRunning',
  'VmPaused',
  'MigrationInProgress',
  'SizeMismatch',
  'FormatMismatch',
  'ShrinkNotSupported',
  'VolumeInUse',
  'AlreadyFormatted',
  'ConnectionMismatch',
  'NotMigratable',
  // 404 on /v1/hosted-engine: the node is not a self-hosted engine node (no --hosted-engine).
  'HostedEngineNotConfigured',
  // 422: valid JSON the hypervisor cannot run.
  'InvalidSpec',
  'KvmUnavailable',
  // 5xx
  'Unavailable',
  'Failed',
  'Internal',
] as const;

/** A reason the agent answers with. */
export type AgentErrorReason = (typeof AGENT_ERROR_REASONS)[number];

/** The error body. `reason` is a plain string so a newer agent's reasons still parse. */
export const errorBody = z.object({
  error: z.object({
    code: z.int(),
    reason: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
});
/** The error body as parsed. */
export type ErrorBody = z.infer<typeof errorBody>;

/**
 * An error with an HTTP status and reason. The agent throws it from handlers
 * (it becomes the error body); the client throws it for every non-2xx answer.
 */
export class AgentApiError extends Error {
  constructor(
    /** HTTP status (0 when no answer was received). */
    readonly status: number,
    /** Machine-readable reason, see {@link AGENT_ERROR_REASONS}. */
    readonly reason: AgentErrorReason | (string & {}),
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AgentApiError';
  }

  /** The error body for this error. */
  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.status, reason: this.reason, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    return { error };
  }
}
