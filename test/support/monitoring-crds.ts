/**
 * The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, generated
 * from their upstream Go types (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring,
 * pinned in tools/monitoring-crds/go.mod) by controller-gen, as that project
 * generates them; cached next to the tools. deploy/monitoring's dry run then
 * meets the real schemas.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '../../src/dev/exec.js';
import { ensureGoTool, goToolDir } from './go-tool.js';
import { kubectl } from './env.js';

const API_PACKAGE = 'github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1';
const FILES = ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'];

/** Generates the two CRDs once per tools/monitoring-crds version; returns their paths. */
export async function monitoringCrdFiles(): Promise<string[]> {
  const controllerGen = await ensureGoTool('controller-gen');
  // The controller-gen build's cache key covers tools/monitoring-crds' go.mod, so the API version too.
  const out = join(dirname(controllerGen), 'monitoring-crds');
  const paths = FILES.map((f) => join(out, f));
  if (paths.every((p) => existsSync(p))) return paths;
  await mkdir(dirname(out), { recursive: true });
  const tmp = await mkdtemp(`${out}.tmp-`);
  try {
    await run(controllerGen, ['crd:crdVersions=v1,maxDescLen=0', `paths=${API_PACKAGE}`, `output:crd:dir=${tmp}`], { cwd: goToolDir('controller-gen') });
    await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    if (paths.every((p) => existsSync(p))) return paths;
    throw error;
  }
  return paths;
}

/** Installs ServiceMonitor and PrometheusRule in the test control plane and waits until they serve. */
export async function installMonitoringCrds(): Promise<void> {
  const files = await monitoringCrdFiles();
  await kubectl(['apply', '--server-side', '--force-conflicts', ...files.flatMap((f) => ['-f', f])]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
}
