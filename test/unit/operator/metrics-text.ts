/** Reading single samples out of Prometheus text exposition, for metric tests. */

/** The value of the sample `name` whose labels include every pair of `labels`; undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const pairs = new Map([...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1]!, p[2]!]));
    if (Object.entries(labels).every(([k, v]) => pairs.get(k) === v)) return Number(m[4]);
  }
  return undefined;
}

/** Names of every family with a `# TYPE` line in `text`. */
export function families(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
}
