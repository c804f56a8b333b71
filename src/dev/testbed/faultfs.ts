/**
 * The test bed's cuttable storage path: `tools/faultfs`, a small Go FUSE
 * pass-through (go-fuse's loopback) built once per (go-fuse version, source
 * hash) into the cache outside the repo, like the control plane, and its
 * control socket (`cut`, `restore`, `status`).
 *
 * One faultfs daemon per test host serves the real shared directory and
 * mounts it over the same path inside that host's mount namespace only, so
 * cutting it fails the host's storage I/O (QEMU's disks included) with EIO
 * while every other host, and the root namespace, still reach the files.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { cacheRoot } from '../controlplane.js';
import { runChecked } from './exec.js';

/** The module whose version names a faultfs build. */
const GO_FUSE_MODULE = 'github.com/hanwen/go-fuse/v2';

/** State of a host's storage path as its faultfs daemon reports it. */
export type StorageState = 'passthrough' | 'cut';

/** The checkout this code runs from (src/dev/testbed or dist/dev/testbed → repo root). */
function repoRoot(): string {
  return process.env['DROVER_REPO_ROOT'] ?? path.resolve(import.meta.dirname, '..', '..', '..');
}

/**
 * Path of the faultfs binary, building `tools/faultfs` with the Go toolchain
 * unless a build of the same go-fuse version and sources is cached under
 * `<cache>/tools/faultfs-<version>-<hash>/faultfs`.
 */
export async function ensureFaultfs(): Promise<string> {
  const dir = path.join(repoRoot(), 'tools', 'faultfs');
  const files = readdirSync(dir).filter((f) => /\.(go|mod|sum)$/.test(f)).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(path.join(dir, f)));
  const version = new RegExp(`${GO_FUSE_MODULE.replace(/\./g, '\\.')} (v\\S+)`).exec(readFileSync(path.join(dir, 'go.mod'), 'utf8'))?.[1];
  if (!version) throw new Error(`tools/faultfs/go.mod does not require ${GO_FUSE_MODULE}`);
  const toolsDir = path.join(cacheRoot(), 'tools');
  const binDir = path.join(toolsDir, `faultfs-${version}-${hash.digest('hex').slice(0, 12)}`);
  const binary = path.join(binDir, 'faultfs');
  if (existsSync(binary)) return binary;
  await mkdir(toolsDir, { recursive: true });
  const tmp = await mkdtemp(path.join(toolsDir, '.build-faultfs-'));
  try {
    await runChecked(['go', 'build', '-trimpath', '-ldflags=-s -w', '-o', path.join(tmp, 'faultfs'), '.'], {
      cwd: dir,
      env: { CGO_ENABLED: '0' },
    });
    await rename(tmp, binDir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    // Another process built the same version meanwhile: use theirs.
    if (existsSync(binary)) return binary;
    throw error;
  }
  return binary;
}

/** argv of a faultfs daemon serving `backing` at `mountpoint` inside the mount namespace `mountNs`. */
export function faultfsArgv(binary: string, o: { backing: string; mountpoint: string; mountNs: string; control: string }): string[] {
  return [binary, 'serve', '-backing', o.backing, '-mountpoint', o.mountpoint, '-mount-ns', o.mountNs, '-control', o.control];
}

/**
 * Sends one command to a faultfs control socket and returns the state it
 * reports afterwards. The daemon answers only once the switch is in effect.
 */
export function storageControl(socket: string, command: 'cut' | 'restore' | 'status', timeoutMs = 5000): Promise<StorageState> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let reply = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`faultfs control ${socket}: no answer to ${command} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${command}\n`));
    conn.on('data', (chunk: string) => {
      reply += chunk;
      const nl = reply.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      conn.end();
      const line = reply.slice(0, nl).trim();
      if (line === 'cut' || line === 'passthrough') resolve(line);
      else reject(new Error(`faultfs control ${socket}: ${line}`));
    });
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`faultfs control ${socket}: ${e.message}`));
    });
  });
}
