/**
 * Building blocks of the host agent API (`/v1/`): names, identifiers and
 * limits shared by the agent (which validates every request) and the
 * operator (which validates every response).
 *
 * Requests use strict objects: an unknown field is an error, never silently
 * ignored, so a typo in the operator cannot turn into a default on a host.
 * Responses use plain objects, so an older operator keeps working against a
 * newer agent that reports more.
 */
import { z } from 'zod';
import { dnsLabel, dnsSubdomain } from '../common.js';

/** Path prefix of every route of this API version. */
export const AGENT_API_PREFIX = '/v1';

/** Largest request body the agent reads, in bytes (bigger bodies get 413). */
export const AGENT_BODY_LIMIT_BYTES = 1024 * 1024;

/** A lower-case UUID: Kubernetes UIDs, libvirt domain UUIDs, storage domain UUIDs. */
export const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lower-case UUID');

/** Names of storage domains, volumes, disks and NICs: DNS-1123 labels, so never `/` or `..`. */
export const agentName = dnsLabel;

/** Name of a Kubernetes object (owner of a VM). */
export const objectName = dnsSubdomain;

/** ISO 8601 timestamp as written by the agent. */
export const timestamp = z.string().min(1).max(64);

/** No control characters (they have no business in paths, command lines or URIs). */
export const noControlChars = (s: string): boolean => !/[\x00-\x1f\x7f]/.test(s);

/** A file inside a storage domain, relative to its root: no leading `/`, no `..` segment, no control characters. */
export const domainRelativePath = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^/]/, 'must be a path relative to the storage domain root')
  .refine((p) => !/(^|\/)\.\.(\/|$)/.test(p), { message: 'must not contain ".." segments' })
  .refine((p) => !p.includes('\\'), { message: 'must not contain backslashes' })
  .refine(noControlChars, { message: 'must not contain control characters' });

/** An absolute host path without `..` segments or control characters. */
export const hostPath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\//, 'must be an absolute path')
  .refine((p) => !/(^|\/)\.\.(\/|$)/.test(p), { message: 'must not contain ".." segments' })
  .refine(noControlChars, { message: 'must not contain control characters' });

/** The body of a verb that takes no parameters: nothing, or `{}`. */
export const emptyRequest = z.strictObject({});
/** {@link emptyRequest} as parsed. */
export type EmptyRequest = z.infer<typeof emptyRequest>;
