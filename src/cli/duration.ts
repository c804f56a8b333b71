/** Parsing Go-style durations ("15s", "500ms", "2m", "1h") for flags. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a duration string; a bare number is seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`invalid duration "${text}" (expected e.g. 15s, 500ms, 2m)`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}
