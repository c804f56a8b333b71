/**
 * Validating an object with its zod schema before acting on it. Errors are
 * flattened into one message naming each field path, the form written into
 * the Ready=False/InvalidSpec condition.
 */
import type { z } from 'zod';

/** The outcome of validating an object. */
export type Validated<T> = { ok: true; value: T } | { ok: false; message: string };

/** Formats zod issues as `path: message; path: message`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Parses `object` with `schema` (defaults applied), or explains why it is invalid. */
export function validate<S extends z.ZodType>(schema: S, object: unknown): Validated<z.output<S>> {
  const result = schema.safeParse(object);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, message: formatIssues(result.error.issues) };
}
