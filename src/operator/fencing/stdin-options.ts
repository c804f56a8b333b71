/**
 * The fence-agents calling convention (fence_ipmilan and friends read
 * `name=value` lines on standard input when started without arguments):
 * builds those lines from a {@link FenceRequest}. Options go on stdin, not
 * argv, so the BMC password never shows in the process list.
 */
import type { FenceRequest } from './types.js';

/** Option names a user may add through `spec.powerManagement.options`. */
const OPTION_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
/** Names Drover sets itself; user options may not override them. */
const RESERVED = new Set(['action', 'ip', 'ipport', 'username', 'password', 'state_dir', 'login', 'passwd']);

/** A value that cannot break the line protocol. */
function checkValue(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error(`fence option ${name} must not contain line breaks or NUL`);
  return value;
}

/**
 * The stdin text for one fence call.
 *
 * @param extra Lines Drover adds for a specific agent (e.g. the test bed's state dir).
 * @throws Error for an option name or value the protocol cannot carry.
 */
export function fenceStdin(request: FenceRequest, extra: Record<string, string> = {}): string {
  const lines: string[] = [`action=${request.action}`];
  const add = (name: string, value: string | number | undefined) => {
    if (value !== undefined) lines.push(`${name}=${checkValue(name, String(value))}`);
  };
  add('ip', request.address);
  add('ipport', request.port);
  add('username', request.username);
  add('password', request.password);
  for (const [name, value] of Object.entries(extra)) add(name, value);
  for (const [name, value] of Object.entries(request.options ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!OPTION_NAME.test(name)) throw new Error(`fence option name ${JSON.stringify(name)} is not allowed`);
    if (RESERVED.has(name)) throw new Error(`fence option ${name} is set by Drover and cannot be given in spec.powerManagement.options`);
    add(name, value);
  }
  return `${lines.join('\n')}\n`;
}

/** `text` with every secret replaced, for logs and status messages. */
export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}
