/**
 * A reader for libvirt's configuration file syntax (qemu.conf,
 * qemu-lockd.conf, sanlock.conf): `key = value` lines, `#` comments, values
 * that are double- or single-quoted strings, integers, or lists in `[ ]`
 * (possibly over several lines). Only scalars are returned; lists are
 * skipped, since the lease settings the agent reads are all scalars.
 *
 * @packageDocumentation
 */

/** A scalar setting: a string or an integer. */
export type ConfValue = string | number;

/** Removes a `#` comment that is not inside quotes. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#') {
      return line.slice(0, i);
    }
  }
  return line;
}

/**
 * The scalar settings of a libvirt config file. Malformed lines are ignored
 * rather than fatal: libvirt itself would refuse to start with them, and the
 * agent then reports what it could read.
 */
export function parseLibvirtConf(text: string): Map<string, ConfValue> {
  const values = new Map<string, ConfValue>();
  let listDepth = 0;
  for (const raw of text.split('\n')) {
    const line = stripComment(raw).trim();
    if (line === '') continue;
    if (listDepth > 0) {
      // Inside a multi-line list: count brackets until it closes.
      listDepth += (line.match(/\[/g)?.length ?? 0) - (line.match(/\]/g)?.length ?? 0);
      continue;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!;
    const value = m[2]!.trim();
    if (value.startsWith('[')) {
      listDepth = (value.match(/\[/g)?.length ?? 0) - (value.match(/\]/g)?.length ?? 0);
      continue;
    }
    const quoted = /^"([^"]*)"$|^'([^']*)'$/.exec(value);
    if (quoted) {
      values.set(key, quoted[1] ?? quoted[2] ?? '');
    } else if (/^-?\d+$/.test(value)) {
      values.set(key, Number.parseInt(value, 10));
    }
  }
  return values;
}
