/**
 * Starts the real control plane (etcd + kube-apiserver with RBAC) once for
 * the integration suite, builds dist/ for the operator processes the tests
 * start, and installs the CRDs. Tests find it through DROVER_TEST_* variables.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startControlPlane } from '../../src/dev/controlplane.js';
import { run } from '../../src/dev/exec.js';

export default async function globalSetup(): Promise<void> {
  const repoRoot = resolve(import.meta.dirname, '../..');
  const stateDir = process.env['DROVER_TEST_STATE'] ?? join(repoRoot, '.drover', 'test');
  await mkdir(stateDir, { recursive: true });
  const [state] = await Promise.all([
    startControlPlane(repoRoot, stateDir, (m) => console.log(m)),
    run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot }),
  ]);
  process.env['DROVER_TEST_STATE'] = stateDir;
  process.env['DROVER_TEST_KUBECONFIG'] = state.adminKubeconfig;
  process.env['DROVER_TEST_APISERVER'] = state.url;
  process.env['DROVER_TEST_CA'] = state.pki.caCert;
  process.env['DROVER_REPO_ROOT'] = repoRoot;
  await run('kubectl', ['--kubeconfig', state.adminKubeconfig, 'apply', '--server-side', '--force-conflicts', '-k', join(repoRoot, 'crds')]);
  await run('kubectl', ['--kubeconfig', state.adminKubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=drover']);
}
