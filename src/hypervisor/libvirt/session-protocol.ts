/**
 * The text protocol of a long-lived interactive virsh (see session.ts):
 * how a request of several commands is written to virsh's stdin, and how
 * each command's stdout and stderr are cut out of the two output streams.
 * Pure functions over strings.
 *
 * virsh's interactive shell reads one line at a time through readline,
 * which echoes the line to stdout (even when stdin is not a terminal, and
 * mangled by line editing when it is long), and parses it with its own
 * quoting rules. So:
 *
 * - Only plain tokens go into a line ({@link isPlainToken}): no whitespace,
 *   quotes, backslashes, `;` or `#`, which virsh's parser would interpret.
 *   A command made of plain tokens means the same to the line parser as
 *   the argv array does to virsh's argv parser.
 * - Each command is framed by markers that virsh itself prints:
 *   `echo --xml <tag>>` prints the tag with `>` escaped as `&gt;`. Drover
 *   never sends `&`, so the printed marker cannot be part of the echoed
 *   input line, and the tag carries a random per-session nonce, so no
 *   command output can fake it (`@@<nonce>.<request>.<command>`). `echo --err` prints the same marker to
 *   stderr (as `error: <marker>`), framing the error messages.
 * - virsh runs nothing of a line it cannot parse (an unknown option, say).
 *   A second line with a sync marker follows every request, so that case
 *   still ends the request, with virsh's parse error as its outcome.
 *
 * @packageDocumentation
 */

/**
 * Characters virsh's command-line parser passes through unchanged. It
 * splits on whitespace and `;`, and interprets quotes, backslashes and `#`;
 * none of those (nor `&`, which would break the framing) is allowed.
 */
const PLAIN_TOKEN = /^[A-Za-z0-9_.:/@+=,-]+$/;

/** A virsh command name (the first token of a command). */
const COMMAND_NAME = /^[a-z][a-z0-9-]*$/;

/** True when `token` reaches virsh's line parser as exactly this one word. */
export function isPlainToken(token: string): boolean {
  return PLAIN_TOKEN.test(token);
}

/**
 * True when every command is a command name followed by plain tokens, so
 * it can be sent as a line without changing its meaning. Anything else
 * must run as an argv array in its own process.
 */
export function canCarry(commands: readonly (readonly string[])[]): boolean {
  return (
    commands.length > 0 &&
    commands.every((c) => c.length > 0 && COMMAND_NAME.test(c[0] ?? '') && c.every(isPlainToken))
  );
}

/** A request as written to virsh's stdin, and the markers that frame its answer. */
export interface EncodedRequest {
  /** The two lines to write (the request line and the sync line), newline-terminated. */
  text: string;
  /** The request line alone (no newline): virsh also takes it as one argv string, outside a session. */
  line: string;
  /** stdout markers as virsh prints them: one before each command, one after the last. */
  stdoutMarkers: string[];
  /** stderr marker lines as virsh prints them (without their newline), same positions. */
  stderrMarkers: string[];
  /** The sync marker on stdout, and its stderr line: the request is answered when both arrived. */
  syncStdout: string;
  syncStderr: string;
}

/**
 * A session nonce: 12 hex digits (48 random bits). Every character of a line
 * costs virsh two system calls (readline reads and echoes byte by byte), so
 * the markers are kept short; the nonce only has to be unguessable for a
 * domain's XML, whose text could otherwise carry a marker.
 */
const NONCE = /^[0-9a-f]{12}$/;

/** Lines of virsh's stderr that are session markers, not messages. */
const MARKER_LINE = /^error: @@[0-9a-f]{12}\.[0-9a-z]+\.(?:[0-9a-z]+|_)&gt;$/;

/** Drops the session's marker lines from stderr text, keeping virsh's messages. */
export function withoutMarkers(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !MARKER_LINE.test(l))
    .join('\n');
}

/** What `echo --xml <tag>>` prints on stdout. */
function printed(tag: string): string {
  return `${tag}&gt;`;
}

/** The commands that print `tag` on both streams. */
function markerCommands(tag: string): string {
  return `echo --xml ${tag}>; echo --err --xml ${tag}>`;
}

/**
 * Encodes request number `seq` of the session with nonce `nonce`.
 *
 * @throws Error when a command cannot be carried (check {@link canCarry} first).
 */
export function encodeRequest(nonce: string, seq: number, commands: readonly (readonly string[])[]): EncodedRequest {
  if (!NONCE.test(nonce) || !Number.isSafeInteger(seq) || seq < 0) throw new Error('invalid session nonce or sequence number');
  if (!canCarry(commands)) throw new Error(`refusing to send ${JSON.stringify(commands)} through a virsh session`);
  // Command positions in base 36; the sync marker's `_` is no base-36 digit.
  const tag = (i: number | 'sync'): string => `@@${nonce}.${seq.toString(36)}.${i === 'sync' ? '_' : i.toString(36)}`;
  const parts: string[] = [];
  const tags: string[] = [];
  commands.forEach((command, i) => {
    tags.push(tag(i));
    parts.push(markerCommands(tag(i)), command.join(' '));
  });
  tags.push(tag(commands.length));
  parts.push(markerCommands(tag(commands.length)));
  const sync = tag('sync');
  const line = parts.join('; ');
  return {
    text: `${line}\n${markerCommands(sync)}\n`,
    line,
    stdoutMarkers: tags.map(printed),
    stderrMarkers: tags.map((t) => `error: ${printed(t)}`),
    syncStdout: printed(sync),
    syncStderr: `error: ${printed(sync)}`,
  };
}

/**
 * About how long the request line for `commands` is (each command plus its
 * markers), to choose between a session and a process of its own without
 * encoding first.
 */
export function estimateLineLength(commands: readonly (readonly string[])[]): number {
  return commands.reduce((sum, c) => sum + c.join(' ').length + MARKER_OVERHEAD, MARKER_OVERHEAD);
}

/** Characters the marker commands add per command (`; echo --xml T>; echo --err --xml T>; ` with a ~20-character tag). */
const MARKER_OVERHEAD = 80;

/** One command's answer. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** How a request ended: each command's output, or an error for the whole line. */
export type DecodedResponse = { kind: 'commands'; outputs: CommandOutput[] } | { kind: 'line-error'; stderr: string };

/**
 * Cuts `text` at `markers` (in order) and returns the pieces between
 * consecutive markers; `undefined` unless all markers are present. With
 * `lines`, a piece loses the newline right after its opening marker: a
 * stderr marker is a whole line, while `virsh -q` prints the stdout marker
 * without one, so a command's stdout is kept byte for byte.
 */
function between(text: string, markers: readonly string[], lines: boolean): string[] | undefined {
  const pieces: string[] = [];
  let from = 0;
  let prevEnd = -1;
  for (const marker of markers) {
    const at = text.indexOf(marker, from);
    if (at < 0) return undefined;
    if (prevEnd >= 0) pieces.push(text.slice(prevEnd, at));
    prevEnd = at + marker.length;
    if (lines && text[prevEnd] === '\n') prevEnd += 1;
    from = prevEnd;
  }
  return pieces;
}

/**
 * Splits one request's share of the streams (everything virsh printed
 * after the previous request's sync marker and before this one's) into
 * per-command outputs.
 */
export function decodeResponse(request: EncodedRequest, stdout: string, stderr: string): DecodedResponse {
  const outs = between(stdout, request.stdoutMarkers, false);
  const errs = between(stderr, request.stderrMarkers, true);
  if (outs === undefined || errs === undefined) {
    // Nothing of the line ran: what virsh printed on stderr is why.
    return { kind: 'line-error', stderr: withoutMarkers(stderr) };
  }
  return { kind: 'commands', outputs: outs.map((o, i) => ({ stdout: o, stderr: errs[i] ?? '' })) };
}

/** True when a command's stderr says it failed (virsh prefixes errors with `error:`). */
export function commandFailed(output: CommandOutput): boolean {
  // After libvirtd restarted, a session's virsh reconnects and says so as an
  // "error" although the command then ran: that line alone is no failure.
  return output.stderr.split('\n').some((l) => /^error:/.test(l) && !RECONNECTED.test(l));
}

/** virsh's note that it re-established its connection (not a failure of the command). */
export const RECONNECTED = /^error:\s*Reconnected to the hypervisor\s*$/;

/**
 * An output stream of the session: text is appended as it arrives and taken
 * up to (and including) a marker once the marker is complete.
 */
export class StreamBuffer {
  private chunks: string[] = [];
  private size = 0;
  /** The marker being searched for, and how far: chunks before `scannedChunks` hold no complete one. */
  private searching = '';
  private scannedChunks = 0;
  private scannedChars = 0;
  /** The end of the searched text that could start a marker completed by the next chunk. */
  private carry = '';

  /** Adds what arrived. */
  push(chunk: string): void {
    if (chunk === '') return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /**
   * Everything before `marker`, consuming the marker (and, with `line`, the
   * newline ending it); `undefined` while the marker has not arrived. Each
   * chunk is searched once, and the text is joined only when the marker is
   * found, so a large answer arriving in many chunks costs linear time.
   */
  takeThrough(marker: string, line = false): string | undefined {
    if (marker !== this.searching) this.resetSearch(marker);
    while (this.scannedChunks < this.chunks.length) {
      const chunk = this.chunks[this.scannedChunks] ?? '';
      const window = this.carry + chunk;
      const found = window.indexOf(marker);
      if (found >= 0) {
        const all = this.chunks.join('');
        const at = this.scannedChars - this.carry.length + found;
        let end = at + marker.length;
        if (line && all[end] === '\n') end += 1;
        this.replace(all.slice(end));
        return all.slice(0, at);
      }
      this.carry = window.slice(Math.max(0, window.length - marker.length + 1));
      this.scannedChars += chunk.length;
      this.scannedChunks += 1;
    }
    return undefined;
  }

  /** Drops everything buffered and returns it (stray output, or a dead child's last words). */
  clear(): string {
    const all = this.chunks.join('');
    this.replace('');
    return all;
  }

  /** How much is buffered. */
  get length(): number {
    return this.size;
  }

  private replace(rest: string): void {
    this.chunks = rest === '' ? [] : [rest];
    this.size = rest.length;
    this.resetSearch('');
  }

  private resetSearch(marker: string): void {
    this.searching = marker;
    this.scannedChunks = 0;
    this.scannedChars = 0;
    this.carry = '';
  }
}
