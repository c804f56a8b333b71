/**
 * Every manifest in examples/ applies for real with server-side apply (not a
 * dry run), twice (the second apply changes nothing), and the objects come
 * back with the API server's defaults filled in. examples/gitops holds
 * kustomizations and Argo CD / Flux objects: test/integration/gitops.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getJson, kubectl, repoRoot } from '../support/env.js';

describe('examples', () => {
  it('apply with kubectl apply --server-side, idempotently, with defaults', async () => {
    const dirs = readdirSync(join(repoRoot(), 'examples')).filter((d) => d !== 'gitops').flatMap((d) => ['-f', join(repoRoot(), 'examples', d)]);
    const first = await kubectl(['apply', '--server-side', '--field-manager=examples-test', '-R', ...dirs]);
    expect(first.stdout).toMatch(/manager\.drover\.io\/demo serverside-applied/);
    expect(first.stdout).toMatch(/virtualmachine\.drover\.io\/web-1 serverside-applied/);
    // examples/quickstart, what `npm run demo` applies.
    expect(first.stdout).toMatch(/manager\.drover\.io\/quickstart serverside-applied/);
    expect(first.stdout).toMatch(/virtualmachine\.drover\.io\/hello serverside-applied/);
    const before = (await getJson('virtualmachine', 'web-1', 'drover-demo')).metadata.resourceVersion;
    await kubectl(['apply', '--server-side', '--field-manager=examples-test', '-R', ...dirs]);
    // Nothing changed, so the API server stored nothing new.
    expect((await getJson('virtualmachine', 'web-1', 'drover-demo')).metadata.resourceVersion).toBe(before);

    const host = await getJson('host', 'host-1', 'drover-demo');
    expect(host.spec.port).toBe(54321);
    const vm = await getJson('virtualmachine', 'web-1', 'drover-demo');
    expect(vm.spec.disks[0]).toMatchObject({ bus: 'virtio', readOnly: false });
    expect(vm.metadata.generation).toBe(1);
    const engine = await getJson('manager', 'engine', 'drover-hosted');
    expect(engine.spec.selfHosted.maintenance).toBe('None');
    const { stdout } = await kubectl(['get', 'drover', '-A', '-o', 'name']);
    for (const name of ['manager.drover.io/demo', 'host.drover.io/node-2', 'storagedomain.drover.io/hosted-engine', 'virtualmachine.drover.io/spare']) {
      expect(stdout).toContain(name);
    }
  });
});
