/**
 * Every way deploy/ installs Drover is accepted by a real API server:
 * `kubectl apply --dry-run=server -k` of each overlay against the test
 * control plane (admission, schema validation and defaulting run; nothing is
 * stored). The Prometheus Operator CRDs that deploy/monitoring needs are
 * generated from their upstream Go types (test/support/monitoring-crds.ts).
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { kubectl, kubectlResult, repoRoot, stateDir } from '../support/env.js';
import { installMonitoringCrds } from '../support/monitoring-crds.js';

const OVERLAYS = ['deploy', 'deploy/overlays/operator', 'deploy/overlays/agent-daemonset', 'deploy/overlays/monitoring'];

/**
 * A dry run stores nothing, so namespaced objects of a first install would
 * find no namespace: the overlay's Namespaces are applied for real first, as
 * a real apply creates them before the rest.
 */
async function createNamespaces(dir: string): Promise<void> {
  const { stdout } = await kubectl(['kustomize', dir]);
  const namespaces = parseAllDocuments(stdout)
    .map((d) => d.toJSON() as { kind?: string })
    .filter((o) => o?.kind === 'Namespace');
  if (namespaces.length > 0) await kubectl(['apply', '--server-side', '-f', '-'], stringify({ apiVersion: 'v1', kind: 'List', items: namespaces }));
}

/** `kubectl apply --dry-run=server -k dir`, exactly as a user would run it (client-side apply; the CRDs fit its annotation). */
const dryRun = (dir: string) => kubectlResult(['apply', '--dry-run=server', '-k', dir]);

beforeAll(async () => {
  await installMonitoringCrds();
});

describe('deploy/ overlays against the real API server', () => {
  it.each(OVERLAYS)('%s passes kubectl apply --dry-run=server', async (overlay) => {
    await createNamespaces(join(repoRoot(), overlay));
    const r = await dryRun(join(repoRoot(), overlay));
    expect(r.ok ? 'accepted' : r.stderr).toBe('accepted');
    // Each object was sent and accepted, not skipped.
    const { stdout: rendered } = await kubectl(['kustomize', join(repoRoot(), overlay)]);
    const objects = (rendered.match(/^kind: /gm) ?? []).length;
    expect((r.stdout.match(/\(server dry run\)/g) ?? []).length).toBe(objects);
  });

  it('the overlays install what they say', async () => {
    const render = async (overlay: string) => (await kubectl(['kustomize', join(repoRoot(), overlay)])).stdout;
    expect(await render('deploy/overlays/operator')).toMatch(/name: drover-enrollment[\s\S]*type: LoadBalancer/);
    const agent = await render('deploy/overlays/agent-daemonset');
    expect(agent).toMatch(/kind: DaemonSet/);
    expect(agent).toMatch(/privileged: true/);
    expect(agent).toMatch(/--bootstrap-token-file=\/etc\/drover\/bootstrap\/\$\(NODE_NAME\)/);
    expect(agent).toMatch(/image: ghcr\.io\/drover-io\/drover:/);
    expect(agent).toMatch(/pod-security\.kubernetes\.io\/enforce: privileged/);
    const monitoring = await render('deploy/overlays/monitoring');
    for (const kind of ['PrometheusRule', 'ServiceMonitor', 'ConfigMap', 'Deployment']) expect(monitoring).toContain(`kind: ${kind}`);
  });

  it('the dry run really validates: a broken overlay is refused naming the field', async () => {
    const dir = mkdtempSync(join(stateDir(), 'broken-overlay-'));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'resources:',
        // kustomize takes relative paths only.
        `  - ${relative(dir, join(repoRoot(), 'deploy/overlays/agent-daemonset'))}`,
        'patches:',
        '  - target: { kind: DaemonSet, name: drover-agent }',
        '    patch: |-',
        '      - op: replace',
        '        path: /spec/template/spec/containers/0/ports/0/containerPort',
        '        value: 70000',
        '',
      ].join('\n'),
    );
    await createNamespaces(dir);
    const r = await dryRun(dir);
    expect(r.ok ? 'accepted' : r.stderr).toMatch(/containerPort/);
  });
});
