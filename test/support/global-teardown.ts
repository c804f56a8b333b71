/** Stops the control plane unless DROVER_TEST_KEEP=1 (handy when debugging a failing test). */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type ControlPlane = typeof import('../../src/dev/controlplane.js');

export default async function globalTeardown(): Promise<void> {
  if (process.env['DROVER_TEST_KEEP'] === '1') return;
  const stateDir = process.env['DROVER_TEST_STATE'];
  if (!stateDir) return;
  const repoRoot = resolve(import.meta.dirname, '../..');
  const { stopControlPlane } = (await import(pathToFileURL(join(repoRoot, 'dist', 'dev', 'controlplane.js')).href)) as ControlPlane;
  await stopControlPlane(stateDir);
}
