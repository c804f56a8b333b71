/**
 * Starts the real control plane (etcd + kube-apiserver with RBAC) once for
 * the integration suite, after building dist/ (the operator processes the
 * tests start run from it), and installs the CRDs. Tests find it through
 * DROVER_TEST_* variables.
 *
 * Jest loads this file outside its module mapper, so it imports the compiled
 * modules from dist/ rather than the TypeScript sources.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type ControlPlane = typeof import('../../src/dev/controlplane.js');
type Exec = typeof import('../../src/dev/exec.js');

export default async function globalSetup(): Promise<void> {
  const repoRoot = resolve(import.meta.dirname, '../..');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'inherit' });
  const load = async <T>(path: string) => (await import(pathToFileURL(join(repoRoot, 'dist', path)).href)) as T;
  const { startControlPlane } = await load<ControlPlane>('dev/controlplane.js');
  const { run } = await load<Exec>('dev/exec.js');
  const stateDir = process.env['DROVER_TEST_STATE'] ?? join(repoRoot, '.drover', 'test');
  mkdirSync(stateDir, { recursive: true });
  const state = await startControlPlane(repoRoot, stateDir, (m) => console.log(m));
  process.env['DROVER_TEST_STATE'] = stateDir;
  process.env['DROVER_TEST_KUBECONFIG'] = state.adminKubeconfig;
  process.env['DROVER_TEST_APISERVER'] = state.url;
  process.env['DROVER_TEST_CA'] = state.pki.caCert;
  process.env['DROVER_REPO_ROOT'] = repoRoot;
  await run('kubectl', ['--kubeconfig', state.adminKubeconfig, 'apply', '--server-side', '--force-conflicts', '-k', join(repoRoot, 'crds')]);
  await run('kubectl', ['--kubeconfig', state.adminKubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=drover']);
}
