/** Stops the control plane unless DROVER_TEST_KEEP=1 (handy when debugging a failing test). */
import { stopControlPlane } from '../../src/dev/controlplane.js';

export default async function globalTeardown(): Promise<void> {
  if (process.env['DROVER_TEST_KEEP'] === '1') return;
  const stateDir = process.env['DROVER_TEST_STATE'];
  if (stateDir) await stopControlPlane(stateDir);
}
