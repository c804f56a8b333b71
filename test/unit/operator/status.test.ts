import { describe, expect, it } from '@jest/globals';
import { canonicalJson, writeStatusIfChanged } from '../../../src/operator/status.js';
import { StaleObjectError, type KubeObject, type ResourceType } from '../../../src/kube/types.js';
import { FakeObjectClient } from '../support/fake-client.js';

const THINGS: ResourceType = { group: 'example.io', version: 'v1', plural: 'things', kind: 'Thing' };

describe('canonicalJson', () => {
  it('sorts keys at every depth, including inside arrays, but keeps array order', () => {
    const a = { b: 1, a: { d: [{ y: 1, x: 2 }], c: 'x' } };
    const b = { a: { c: 'x', d: [{ x: 2, y: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('distinguishes different values', () => {
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: { b: true } })).not.toBe(canonicalJson({ a: { b: false } }));
    expect(canonicalJson(null)).toBe('null');
  });
});

describe('writeStatusIfChanged', () => {
  async function setup(status?: unknown): Promise<{ client: FakeObjectClient; object: KubeObject }> {
    const client = new FakeObjectClient();
    const object = await client.create(THINGS, { metadata: { name: 't', namespace: 'ns' }, ...(status === undefined ? {} : { status }) });
    return { client, object };
  }

  it('writes nothing when the status is equal up to key order', async () => {
    const { client, object } = await setup({ phase: 'Up', conditions: [{ type: 'Ready', status: 'True' }], hosts: { total: 2, up: 1 } });
    const wrote = await writeStatusIfChanged(client, THINGS, object, {
      hosts: { up: 1, total: 2 },
      conditions: [{ status: 'True', type: 'Ready' }],
      phase: 'Up',
    });
    expect(wrote).toBeUndefined();
    expect(client.calls.applyStatus).toHaveLength(0);
  });

  it('treats undefined members as absent, and an absent status as empty', async () => {
    const { client, object } = await setup({ phase: 'Up' });
    expect(await writeStatusIfChanged(client, THINGS, object, { phase: 'Up', host: undefined, nested: undefined })).toBeUndefined();
    const bare = await client.create(THINGS, { metadata: { name: 'bare', namespace: 'ns' } });
    expect(await writeStatusIfChanged(client, THINGS, bare, {})).toBeUndefined();
    expect(client.calls.applyStatus).toHaveLength(0);
  });

  it('writes the status (without undefined members) when something changed, and returns the written object', async () => {
    const { client, object } = await setup({ phase: 'Up' });
    const written = await writeStatusIfChanged(client, THINGS, object, { phase: 'Down', host: undefined, count: 0 });
    expect(written?.status).toEqual({ phase: 'Down', count: 0 });
    expect(Number(written?.metadata.resourceVersion)).toBeGreaterThan(Number(object.metadata.resourceVersion));
    expect(client.calls.applyStatus).toEqual([{ plural: 'things', namespace: 'ns', name: 't', status: { phase: 'Down', count: 0 } }]);
    expect(Object.keys(client.calls.applyStatus[0]!.status as object)).not.toContain('host');
    expect(client.peek(THINGS, 'ns', 't')?.status).toEqual({ phase: 'Down', count: 0 });
  });

  it('writes when a member is removed or an array changes order', async () => {
    const { client, object } = await setup({ phase: 'Up', extra: 1, list: ['a', 'b'] });
    const written = await writeStatusIfChanged(client, THINGS, object, { phase: 'Up', list: ['a', 'b'] });
    expect(written).toBeDefined();
    expect(await writeStatusIfChanged(client, THINGS, written!, { phase: 'Up', extra: 1, list: ['b', 'a'] })).toBeDefined();
    expect(client.calls.applyStatus).toHaveLength(2);
  });

  it('is refused (StaleObjectError, 409) over an object older than the stored one, which keeps its status', async () => {
    const { client, object } = await setup({ phase: 'Up' });
    // Another pass wrote since `object` was read.
    await writeStatusIfChanged(client, THINGS, object, { phase: 'Maintenance' });
    const refusal = writeStatusIfChanged(client, THINGS, object, { phase: 'Down' });
    await expect(refusal).rejects.toBeInstanceOf(StaleObjectError);
    await expect(refusal).rejects.toMatchObject({ code: 409 });
    expect(client.peek(THINGS, 'ns', 't')?.status).toEqual({ phase: 'Maintenance' });
  });
});
