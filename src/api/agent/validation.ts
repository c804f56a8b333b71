/**
 * Turning a zod failure into the API's error: the first problem decides the
 * reason and names the field (`disks[0].volume`), the message lists up to a
 * few problems so a person sees everything wrong at once.
 */
import type { z } from 'zod';
import { AgentApiError } from './errors.js';

/** `['disks', 0, 'volume']` → `disks[0].volume`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function issueField(issue: z.core.$ZodIssue, prefix: string): string {
  const path: PropertyKey[] = [...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const field = formatFieldPath(path);
  return prefix === '' ? field : field === '' ? prefix : `${prefix}.${field}`;
}

function issueReason(issue: z.core.$ZodIssue): 'UnknownField' | 'MissingField' | 'InvalidField' {
  if (issue.code === 'unrecognized_keys') return 'UnknownField';
  // Zod reports a missing key as an invalid_type whose input is undefined.
  if (issue.code === 'invalid_type' && 'input' in issue && issue.input === undefined) return 'MissingField';
  return 'InvalidField';
}

function issueMessage(issue: z.core.$ZodIssue, field: string): string {
  const where = field === '' ? 'body' : field;
  if (issue.code === 'unrecognized_keys') return `${where}: unknown field`;
  if (issueReason(issue) === 'MissingField') return `${where}: is required`;
  return `${where}: ${issue.message}`;
}

/**
 * The API error for a failed parse. Parse with `{ reportInput: true }` so a
 * missing field can be told from a wrong one; the input itself never goes
 * into the message (it may be huge, or something the sender did not mean to echo).
 * @param prefix prepended to every field (e.g. nothing for bodies; path parameters are top-level names).
 */
export function apiErrorFromZod(error: z.ZodError, status = 400, prefix = ''): AgentApiError {
  const issues = error.issues;
  const first = issues[0];
  if (first === undefined) return new AgentApiError(status, 'InvalidField', 'invalid request');
  const field = issueField(first, prefix);
  const messages = issues.slice(0, 5).map((i) => issueMessage(i, issueField(i, prefix)));
  if (issues.length > 5) messages.push(`and ${issues.length - 5} more`);
  return new AgentApiError(status, issueReason(first), messages.join('; '), field === '' ? undefined : field);
}
