/**
 * Fetching Debian packages for the test guest without installing them on the
 * host: `apt-cache` resolves names and versions, `apt-get download` fetches
 * the `.deb` into a scratch directory, `dpkg-deb -x` unpacks it there.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { run, runChecked } from '../testbed/exec.js';

/** A concrete package (name + candidate version) as apt resolves it. */
export interface AptPackage {
  name: string;
  version: string;
  /** The `Depends:` field of that version, unparsed. */
  depends: string;
}

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };

let updatedOnce = false;

/**
 * Looks up the candidate version of a package with `apt-cache show`.
 * When apt knows nothing about it (lists never downloaded on a fresh machine)
 * it runs `apt-get update` once and tries again.
 */
export async function aptCandidate(name: string): Promise<AptPackage> {
  for (;;) {
    const res = await run(['apt-cache', 'show', '--no-all-versions', name], { env: APT_ENV });
    const fields = parseControl(res.stdout);
    const version = fields.get('Version');
    if (res.code === 0 && version) {
      return { name, version, depends: fields.get('Depends') ?? '' };
    }
    if (updatedOnce) {
      throw new Error(`apt-cache show ${name} found no candidate: ${res.stderr.trim() || '(no output)'}`);
    }
    updatedOnce = true;
    await runChecked(['apt-get', 'update', '-q'], { env: APT_ENV, timeoutMs: 300_000 });
  }
}

/**
 * Resolves the versioned kernel image behind a meta package such as
 * `linux-image-cloud-amd64` (whose only job is to depend on
 * `linux-image-<abi>-cloud-amd64`).
 */
export async function resolveKernelPackage(meta: string): Promise<AptPackage> {
  const metaPkg = await aptCandidate(meta);
  const dep = metaPkg.depends
    .split(',')
    .map((d) => d.trim().split(/\s+/)[0] ?? '')
    .find((d) => /^linux-image-\d/.test(d));
  if (!dep) throw new Error(`${meta} ${metaPkg.version} depends on no linux-image-<version> package: "${metaPkg.depends}"`);
  return aptCandidate(dep);
}

/** Downloads `pkg` (exact version) into `dir` and returns the `.deb` path. */
export async function aptDownload(pkg: AptPackage, dir: string): Promise<string> {
  const before = new Set(await readdir(dir));
  // As root, apt warns that _apt cannot write the directory and downloads
  // unsandboxed; that is harmless here.
  await runChecked(['apt-get', 'download', '-q', `${pkg.name}=${pkg.version}`], {
    cwd: dir,
    env: APT_ENV,
    timeoutMs: 600_000,
  });
  const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb') && !before.has(f) && f.startsWith(`${pkg.name}_`));
  const deb = debs[0];
  if (!deb) throw new Error(`apt-get download ${pkg.name}=${pkg.version} produced no .deb in ${dir}`);
  return path.join(dir, deb);
}

/** Unpacks a `.deb`'s file system tree into `dest` (no maintainer scripts run). */
export async function debExtract(deb: string, dest: string): Promise<void> {
  await runChecked(['dpkg-deb', '-x', deb, dest], { timeoutMs: 300_000 });
}

/** Parses one Debian control stanza (continuation lines folded in). */
function parseControl(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line === '') {
      if (fields.size > 0) break;
      continue;
    }
    if (/^\s/.test(line) && last) {
      fields.set(last, `${fields.get(last) ?? ''}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    fields.set(last, line.slice(colon + 1).trim());
  }
  return fields;
}
