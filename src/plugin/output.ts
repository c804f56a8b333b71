/**
 * Plain-text output of `kubectl drover`: aligned tables like kubectl's, and
 * errors as one line.
 *
 * @packageDocumentation
 */

/** Columns padded to their widest cell, separated by three spaces, like `kubectl get`. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** One line for stderr: `error: <message>`, newlines folded, at most 400 characters. */
export function errorLine(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  // fetch reports only "fetch failed"; the reason (ECONNREFUSED, a TLS error) is its cause.
  const cause = error instanceof Error ? (error.cause as { message?: unknown; code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.message === 'string' && cause.message !== '') text = `${text}: ${cause.message}`;
  return `error: ${text.replace(/\s*\n\s*/g, ' ').trim().slice(0, 400)}`;
}

/** A condition's status (`True`/`False`/`Unknown`), or `-`. */
export function conditionStatus(status: unknown, type: string): string {
  const conditions = (status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
  return conditions.find((c) => c.type === type)?.status ?? '-';
}

/** A value for a table cell: `-` for nothing. */
export function cell(value: unknown): string {
  return value === undefined || value === null || value === '' ? '-' : String(value);
}
