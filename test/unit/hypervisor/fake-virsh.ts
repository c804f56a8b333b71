/**
 * Writes small stand-in `virsh` programs (shell scripts) for unit tests of
 * the driver's process handling. They record their argv and answer a few
 * commands; no libvirt is involved.
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
  const script = ['#!/bin/sh', `LOG='${log}'`, `DIR='${dir}'`, 'printf \'%s\\n\' "$*" >> "$LOG"', 'for last; do :; done', 'case "$*" in', caseBody, 'esac', ''].join('\n');
  await writeFile(binary, script);
  await chmod(binary, 0o755);
  return { dir, binary, log };
}
