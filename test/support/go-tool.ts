/**
 * Small Go programs the tests use as real reference implementations (tools/*:
 * kstatus from sigs.k8s.io/cli-utils, PromQL's own parser), built once with
 * the Go toolchain and cached outside the repo like the control plane:
 * `<cache>/tools/<name>-<version>-<source hash>/<name>`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cacheRoot } from '../../src/dev/controlplane.js';
import { run } from '../../src/dev/exec.js';

/** The tools: their module under tools/, the package built, and the module whose version names the build. */
const TOOLS = {
  kstatus: { dir: 'kstatus', pkg: '.', module: 'sigs.k8s.io/cli-utils' },
  promql: { dir: 'promql', pkg: '.', module: 'github.com/prometheus/prometheus' },
  'argocd-health': { dir: 'argocd-health', pkg: '.', module: 'github.com/yuin/gopher-lua' },
  'controller-gen': { dir: 'monitoring-crds', pkg: 'sigs.k8s.io/controller-tools/cmd/controller-gen', module: 'sigs.k8s.io/controller-tools' },
} as const;

/** A tool's name. */
export type GoTool = keyof typeof TOOLS;

const repoRoot = resolve(import.meta.dirname, '../..');

/** The module directory of a tool, tools/<dir>. */
export function goToolDir(name: GoTool): string {
  return join(repoRoot, 'tools', TOOLS[name].dir);
}

/** Builds a tool unless a build of the same version and sources is cached; returns the binary's path. */
export async function ensureGoTool(name: GoTool): Promise<string> {
  const dir = goToolDir(name);
  const { module, pkg } = TOOLS[name];
  const files = readdirSync(dir).filter((f) => /\.(go|mod|sum)$/.test(f)).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(dir, f)));
  const goMod = readFileSync(join(dir, 'go.mod'), 'utf8');
  const version = new RegExp(`${module.replace(/\./g, '\\.')} (v\\S+)`).exec(goMod)?.[1];
  if (!version) throw new Error(`${dir}/go.mod does not require ${module}`);
  const binDir = join(cacheRoot(), 'tools', `${name}-${version}-${hash.digest('hex').slice(0, 12)}`);
  const binary = join(binDir, name);
  if (existsSync(binary)) return binary;
  await mkdir(join(cacheRoot(), 'tools'), { recursive: true });
  const tmp = await mkdtemp(join(cacheRoot(), 'tools', `.build-${name}-`));
  try {
    await run('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', join(tmp, name), pkg], {
      cwd: dir,
      env: { ...process.env, CGO_ENABLED: '0' },
    });
    await rename(tmp, binDir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    // Another test process built it meanwhile: use theirs.
    if (existsSync(binary)) return binary;
    throw error;
  }
  return binary;
}

/** Runs a tool with `input` on stdin; returns its stdout lines parsed as JSON. */
export async function runGoTool<T>(name: GoTool, input: string): Promise<T[]> {
  const { stdout } = await run(await ensureGoTool(name), [], { input });
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
