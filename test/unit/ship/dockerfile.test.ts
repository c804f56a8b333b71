import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execForm, isIgnored, parseDockerfile, type Stage } from './dockerfile-parse.js';

const root = join(import.meta.dirname, '../../..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');
const stages = parseDockerfile(dockerfile);
const final = stages[stages.length - 1]!;
const args = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
/** ARG defaults declared before the first FROM (image names are resolved through them). */
const globalArgs = Object.fromEntries(
  [...dockerfile.split(/^FROM /m)[0]!.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
);
const baseImage = (stage: Stage) => stage.from.replace(/^\$\{(\w+)\}$/, (_, n: string) => globalArgs[n] ?? n);

describe('Dockerfile', () => {
  it('is multi-stage: builds on Node.js 24 and runs on a slim Node.js 24', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(baseImage(stages[0]!)).toMatch(/^node:24[-.]/);
    expect(baseImage(final)).toMatch(/^node:24[-.].*slim/);
    const build = stages.find((s) => s.name === 'build')!;
    expect(args(build, 'RUN').join('\n')).toMatch(/npm ci/);
    expect(args(build, 'RUN').join('\n')).toMatch(/npm run build/);
  });

  it('runs as a numeric non-root user (so runAsNonRoot can verify it)', () => {
    const users = args(final, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = users[users.length - 1]!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
  });

  it('enters through dist/cli/main.js, the file the build makes from src/cli/main.ts and package.json names as drover', () => {
    const entrypoint = execForm(args(final, 'ENTRYPOINT').at(-1) ?? '');
    expect(entrypoint).toEqual(['node', '/app/dist/cli/main.js']);
    expect(args(final, 'WORKDIR').at(-1)).toBe('/app');
    expect(execForm(args(final, 'CMD').at(-1) ?? '')).toEqual(['operator']);
    // tsc maps src/ to dist/ (tsconfig.build.json), so dist/cli/main.js comes from src/cli/main.ts.
    const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(join(root, 'src/cli/main.ts'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin['drover']).toBe('dist/cli/main.js');
    // The build stage's dist/ is what lands in /app/dist.
    expect(args(final, 'COPY')).toContain('--from=build /src/dist ./dist');
    // After `npm run build` (the tests' global setup and scripts/test.sh build first) the entrypoint exists.
    if (existsSync(join(root, 'dist'))) expect(existsSync(join(root, 'dist/cli/main.js'))).toBe(true);
  });

  it('copies no sources, no build context and no dev dependencies into the final stage', () => {
    const copies = args(final, 'COPY').concat(args(final, 'ADD'));
    // Everything comes from earlier stages, nothing from the build context.
    for (const c of copies) expect(c).toMatch(/^--from=\w+ /);
    expect(copies.join('\n')).not.toMatch(/\bsrc\b(?!\/(dist|node_modules|package))|tsconfig|\btest\b/);
    // node_modules comes from a stage that installed production dependencies only.
    const nodeModules = copies.find((c) => /node_modules/.test(c))!;
    const from = /^--from=(\w+)/.exec(nodeModules)![1];
    const source = stages.find((s) => s.name === from)!;
    expect(args(source, 'RUN').join('\n')).toMatch(/npm ci [^\n]*--omit=dev|npm prune [^\n]*--omit=dev/);
    expect(args(final, 'RUN').join('\n')).not.toMatch(/\bnpm (ci|install)\b/);
  });

  it('carries the OCI labels and the tools the agent runs (virsh, qemu-img) and the operator runs (openssl)', () => {
    const labels = args(final, 'LABEL').join(' ');
    for (const key of ['title', 'description', 'source', 'licenses', 'version', 'revision']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
    const run = args(final, 'RUN').join('\n');
    for (const pkg of ['libvirt-clients', 'qemu-utils', 'openssl']) expect(run).toMatch(new RegExp(`\\b${pkg}\\b`));
    expect(run).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
  });
});

describe('.dockerignore', () => {
  it('keeps local state, dependencies, build output and tests out of the build context', () => {
    for (const path of ['node_modules', 'node_modules/zod/package.json', '.drover/test/admin.kubeconfig', 'dist/cli/main.js', 'test/unit/api/crds.test.ts', '.git/HEAD', 'docs/architecture.md', 'coverage/lcov.info', 'npm-debug.log']) {
      expect({ path, ignored: isIgnored(dockerignore, path) }).toEqual({ path, ignored: true });
    }
  });

  it('sends everything the Dockerfile copies from the context', () => {
    const fromContext = stages
      .flatMap((s) => args(s, 'COPY'))
      .filter((c) => !c.startsWith('--from='))
      .flatMap((c) => c.split(/\s+/).slice(0, -1));
    expect(fromContext).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src']));
    for (const path of [...fromContext, 'src/cli/main.ts', 'src/api/index.ts']) {
      expect({ path, ignored: isIgnored(dockerignore, path) }).toEqual({ path, ignored: false });
    }
  });

  it('the ignore matcher itself tells a negated directory from an excluded one', () => {
    expect(isIgnored('*\n!src/\n', 'src/a/b.ts')).toBe(false);
    expect(isIgnored('*\n!src/\nsrc/**/*.log\n', 'src/a/b.log')).toBe(true);
    expect(isIgnored('node_modules\n', 'node_modules/x/y')).toBe(true);
    expect(isIgnored('node_modules\n', 'src/node_modules.ts')).toBe(false);
  });
});
