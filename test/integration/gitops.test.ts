/**
 * examples/gitops: the environment folder that Argo CD and Flux sync is
 * accepted by the real API server (server-side dry run), the Application and
 * Kustomizations point at folders that exist and build, and there is an Argo
 * CD health check for every Drover kind (their verdicts are tested on real
 * statuses in kstatus.test.ts).
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { KINDS } from '../../src/api/index.js';
import { kubectl, kubectlResult, repoRoot } from '../support/env.js';

const gitops = join(repoRoot(), 'examples/gitops');
const environment = 'examples/gitops/environments/production';
const docs = (file: string) => parseAllDocuments(readFileSync(join(gitops, file), 'utf8')).map((d) => d.toJSON() as Record<string, any>);

describe('examples/gitops', () => {
  it('the environment folder passes kubectl apply --dry-run=server and holds every kind of environment object', async () => {
    const { stdout } = await kubectl(['kustomize', join(repoRoot(), environment)]);
    const objects = parseAllDocuments(stdout).map((d) => d.toJSON() as { kind: string; metadata: { namespace?: string } });
    expect(new Set(objects.map((o) => o.kind))).toEqual(new Set(['Namespace', 'Manager', 'Host', 'StorageDomain', 'VirtualMachine']));
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace).toBe('drover-production');
    // A dry run stores nothing: the namespace first, for real.
    await kubectl(['create', 'namespace', 'drover-production', '--dry-run=client', '-o', 'yaml']).then((r) => kubectl(['apply', '--server-side', '-f', '-'], r.stdout));
    const r = await kubectlResult(['apply', '--dry-run=server', '-k', join(repoRoot(), environment)]);
    expect(r.ok ? 'accepted' : r.stderr).toBe('accepted');
    expect((r.stdout.match(/\(server dry run\)/g) ?? []).length).toBe(objects.length);
  });

  it('Argo CD Applications and Flux Kustomizations point at folders of this repository that build', async () => {
    const apps = docs('argocd/application.yaml');
    expect(apps.map((a) => `${a['apiVersion']} ${a['kind']}`)).toEqual(['argoproj.io/v1alpha1 Application', 'argoproj.io/v1alpha1 Application']);
    const flux = docs('flux/kustomization.yaml');
    expect(flux.map((f) => f['kind'])).toEqual(['GitRepository', 'Kustomization', 'Kustomization']);
    const paths = [...apps.map((a) => a['spec']['source']['path'] as string), ...flux.filter((f) => f['kind'] === 'Kustomization').map((f) => (f['spec']['path'] as string).replace(/^\.\//, ''))];
    expect(paths).toEqual(expect.arrayContaining([environment, 'deploy/overlays/operator']));
    for (const path of paths) {
      expect({ path, exists: existsSync(join(repoRoot(), path, 'kustomization.yaml')) }).toEqual({ path, exists: true });
      const built = await kubectl(['kustomize', join(repoRoot(), path)]);
      expect(built.stdout).toMatch(/^kind: /m);
    }
    // The environment waits for the operator (its CRDs) in both tools.
    expect(flux.find((f) => f['metadata']['name'] === 'drover-production')!['spec']['dependsOn']).toEqual([{ name: 'drover-operator' }]);
    const waves = apps.map((a) => Number(a['metadata']['annotations']['argocd.argoproj.io/sync-wave']));
    expect(waves[apps.findIndex((a) => a['spec']['source']['path'] === environment)]).toBeGreaterThan(Math.min(...waves));
  });

  it('has an Argo CD health check for every Drover kind', () => {
    const cm = parse(readFileSync(join(gitops, 'argocd/argocd-cm-health.yaml'), 'utf8')) as { metadata: { name: string }; data: Record<string, string> };
    expect(cm.metadata.name).toBe('argocd-cm');
    const keys = Object.keys(cm.data).sort();
    expect(keys).toEqual(KINDS.map((k) => `resource.customizations.health.drover.io_${k.kind}`).sort());
    for (const script of Object.values(cm.data)) expect(script).toMatch(/return \{ status = "Healthy"/);
    // docs/gitops.md shows the VirtualMachine check as it is.
    const doc = readFileSync(join(repoRoot(), 'docs/gitops.md'), 'utf8');
    const shown = /```lua\n([\s\S]*?)```/.exec(doc)![1]!;
    expect(shown.trim()).toBe(cm.data['resource.customizations.health.drover.io_VirtualMachine']!.trim());
  });
});
