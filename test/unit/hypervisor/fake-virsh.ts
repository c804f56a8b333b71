/**
 * Writes small stand-in `virsh` programs (shell scripts) for unit tests of
 * the driver's process handling. They record their argv and answer a few
 * commands; no libvirt is involved.
 *
 * Started with a command (`virsh -q -c URI cmd...`) the stand-in runs it;
 * started without one it plays virsh's interactive shell the way the driver's
 * sessions use it: a prompt, the echo of each line read, `; `-separated
 * commands, and `echo [--err] --xml TAG>` printing `TAG&gt;` (on stderr as
 * `error: TAG&gt;`). Each other command runs in a subshell, so the case body
 * may `exit` as in the one-process form, and is logged the same way
 * ("-q -c URI cmd...").
 */
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A stand-in virsh and the files it writes. */
export interface FakeVirsh {
  dir: string;
  binary: string;
  /** One line per call: the argv joined by spaces. */
  log: string;
}

/** Creates a fake virsh whose behaviour is the given `case "$*" in … esac` body. */
export async function fakeVirsh(caseBody: string): Promise<FakeVirsh> {
  const dir = await mkdtemp(path.join(tmpdir(), 'drover-fake-virsh-'));
  const binary = path.join(dir, 'virsh');
  const log = path.join(dir, 'calls.log');
  const script = [
    '#!/bin/sh',
    `LOG='${log}'`,
    `DIR='${dir}'`,
    'handle() {',
    '  printf \'%s\\n\' "$*" >> "$LOG"',
    '  for last; do :; done',
    '  case "$*" in',
    caseBody,
    '  esac',
    '}',
    'if [ $# -gt 3 ]; then handle "$@"; exit $?; fi',
    'printf "$$\\n" > "$DIR/session.pid"',
    "printf 'virsh # '",
    'while IFS= read -r line; do',
    "  printf '%s\\n' \"$line\"",
    '  while [ -n "$line" ]; do',
    "    cmd=${line%%; *}",
    '    if [ "$cmd" = "$line" ]; then line=; else line=${line#*; }; fi',
    '    case "$cmd" in',
    "      'echo --xml '*) m=${cmd#echo --xml }; printf '%s&gt;' \"${m%>}\" ;;",
    "      'echo --err --xml '*) m=${cmd#echo --err --xml }; printf 'error: %s&gt;\\n' \"${m%>}\" >&2 ;;",
    '      *) (set -f; handle "$@" $cmd) ;;',
    '    esac',
    '  done',
    "  printf 'virsh # '",
    'done',
    '',
  ].join('\n');
  await writeFile(binary, script);
  await chmod(binary, 0o755);
  return { dir, binary, log };
}
