/**
 * Storage health probe, as VDSM's domain monitor does it: a timed read of
 * the metadata and a timed synchronous write to the metadata area. The
 * read may be answered by the page cache; the write (O_DSYNC) is what
 * proves the storage accepts I/O now.
 *
 * A read on a hung NFS mount can block a libuv worker thread indefinitely;
 * the timeout makes the probe report failure instead of waiting for it.
 *
 * @packageDocumentation
 */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DOM_MD, METADATA_FILE, PROBE_FILE } from './layout.js';
import type { DomainStatus } from './types.js';

/** Default time a probe step may take before the domain counts as unhealthy. */
export const PROBE_TIMEOUT_MS = 10_000;

type Health = NonNullable<DomainStatus['health']>;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function timed(fn: () => Promise<unknown>, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  await withTimeout(fn(), ms, what);
  return performance.now() - t0;
}

async function writeProbe(file: string): Promise<void> {
  // O_DSYNC: write() returns only once the data is on stable storage.
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC, 0o644);
  try {
    await fh.write(`${new Date().toISOString()}\n`);
  } finally {
    await fh.close();
  }
}

/** Probes the formatted domain in `domainDir` (`<root>/<uuid>`). Never throws. */
export async function probeDomain(domainDir: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<Health> {
  const checkedAt = new Date().toISOString();
  let readLatencyMs = -1;
  let writeLatencyMs = -1;
  try {
    readLatencyMs = await timed(() => readFile(path.join(domainDir, DOM_MD, METADATA_FILE)), timeoutMs, 'metadata read');
    writeLatencyMs = await timed(() => writeProbe(path.join(domainDir, DOM_MD, PROBE_FILE)), timeoutMs, 'probe write');
    return { ok: true, readLatencyMs: round(readLatencyMs), writeLatencyMs: round(writeLatencyMs), checkedAt };
  } catch (err) {
    return { ok: false, readLatencyMs: round(readLatencyMs), writeLatencyMs: round(writeLatencyMs), checkedAt, error: (err as Error).message };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
