import { describe, expect, it } from '@jest/globals';
import { specOrMetadataChanged } from '../../../src/controllers/register.js';
import type { KubeObject } from '../../../src/kube/types.js';

const base: KubeObject = {
  metadata: { name: 'x', namespace: 'ns', generation: 3, resourceVersion: '10', labels: { a: '1' }, finalizers: ['f'] },
  spec: { size: 1 },
  status: { phase: 'Up' },
};

const changed = (mutate: (o: KubeObject) => void): KubeObject => {
  const o = structuredClone(base);
  mutate(o);
  return o;
};

describe('specOrMetadataChanged', () => {
  it('is false for a status-only update (resourceVersion moves, generation does not)', () => {
    const next = changed((o) => {
      o.status = { phase: 'Down', conditions: [] };
      o.metadata.resourceVersion = '11';
      o.metadata['managedFields'] = [{ manager: 'drover' }];
    });
    expect(specOrMetadataChanged(base, next)).toBe(false);
    expect(specOrMetadataChanged(base, structuredClone(base))).toBe(false);
  });

  it.each<[string, (o: KubeObject) => void]>([
    ['generation', (o) => (o.metadata.generation = 4)],
    ['labels', (o) => (o.metadata.labels = { a: '2' })],
    ['labels removed', (o) => delete o.metadata.labels],
    ['annotations', (o) => (o.metadata.annotations = { note: 'x' })],
    ['finalizers', (o) => (o.metadata.finalizers = [])],
    ['deletionTimestamp', (o) => (o.metadata.deletionTimestamp = '2025-01-01T00:00:00Z')],
  ])('is true when %s change', (_what, mutate) => {
    expect(specOrMetadataChanged(base, changed(mutate))).toBe(true);
  });

  it('treats absent and empty labels/finalizers alike', () => {
    const a = changed((o) => {
      delete o.metadata.labels;
      delete o.metadata.finalizers;
    });
    const b = changed((o) => {
      o.metadata.labels = {};
      o.metadata.finalizers = [];
    });
    expect(specOrMetadataChanged(a, b)).toBe(false);
  });
});
