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
 * Looks up the candidate versions of packages with one `apt-cache show`
 * (each call costs about a second where apt keeps no binary cache). When apt
 * knows nothing about one of them (lists never downloaded on a fresh machine)
 * it runs `apt-get update` once and tries again.
 */
export async function aptCandidates(names: readonly string[]): Promise<AptPackage[]> {
  for (;;) {
    const res = await run(['apt-cache', 'show', '--no-all-versions', ...names], { env: APT_ENV });
    const byName = new Map<string, AptPackage>();
    for (const stanza of res.stdout.split(/\n\s*\n/)) {
      const fields = parseControl(stanza);
      const name = fields.get('Package');
      const version = fields.get('Version');
      if (name && version && !byName.has(name)) byName.set(name, { name, version, depends: fields.get('Depends') ?? '' });
    }
    const missing = names.filter((n) => !byName.has(n));
    if (missing.length === 0) return names.map((n) => byName.get(n) as AptPackage);
    if (updatedOnce) {
      throw new Error(`apt-cache show found no candidate for ${missing.join(', ')}: ${res.stderr.trim() || '(no output)'}`);
    }
    updatedOnce = true;
    await runChecked(['apt-get', 'update', '-q'], { env: APT_ENV, timeoutMs: 300_000 });
  }
}

/** Candidate version of one package (see {@link aptCandidates}). */
export async function aptCandidate(name: string): Promise<AptPackage> {
  const [pkg] = await aptCandidates([name]);
  if (!pkg) throw new Error(`no candidate for ${name}`);
  return pkg;
}

/**
 * Resolves the versioned kernel image behind a meta package such as
 * `linux-image-cloud-amd64`, whose only job is to depend on
 * `linux-image-<abi>-cloud-amd64 (= <version>)`. The exact version is in that
 * dependency, which saves a second apt-cache call.
 */
export function kernelFromMeta(meta: AptPackage): AptPackage {
  for (const alt of meta.depends.split(',')) {
    const m = /^\s*(linux-image-\d\S*)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?/.exec(alt);
    if (m?.[1] && m[2]) return { name: m[1], version: m[2], depends: '' };
  }
  throw new Error(`${meta.name} ${meta.version} depends on no linux-image-<abi> package with an exact version: "${meta.depends}"`);
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
