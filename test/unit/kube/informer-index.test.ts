/**
 * The informer's cache answers by UID and by named indexes, kept current
 * through adds, updates (an object moving between index values), deletes,
 * a relist after 410 Gone, and an object re-created under the same name.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Informer } from '../../../src/kube/informer.js';
import type { KubeObject, ResourceType } from '../../../src/kube/types.js';
import { FakeObjectClient } from '../support/fake-client.js';
import { silentLogger, waitFor } from '../support/operator-context.js';

const VMS: ResourceType = { group: 'example.io', version: 'v1', plural: 'vms', kind: 'Vm' };
const vm = (name: string, host?: string): KubeObject => ({
  apiVersion: 'example.io/v1',
  kind: 'Vm',
  metadata: { name, namespace: 'ns' },
  spec: {},
  ...(host ? { status: { host } } : {}),
});
const byHost = (o: KubeObject): string[] => {
  const host = (o.status as { host?: string } | undefined)?.host;
  return host ? [host] : [];
};
const names = (objects: KubeObject[]) => objects.map((o) => o.metadata.name).sort();

const informers: Informer[] = [];
afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

async function started(client: FakeObjectClient): Promise<Informer> {
  const informer = new Informer(client, VMS, undefined, silentLogger, { backoffBaseMs: 1, backoffMaxMs: 5 });
  informers.push(informer);
  informer.start();
  await informer.waitForSync();
  await waitFor(() => client.activeWatches(VMS) === 1);
  return informer;
}

describe('Informer indexes', () => {
  it('indexes what is cached when the index is added, then follows adds, moves and deletes', async () => {
    const client = new FakeObjectClient();
    await client.create(VMS, vm('a', 'h1'));
    await client.create(VMS, vm('b', 'h1'));
    const informer = await started(client);
    informer.addIndex('host', byHost);
    expect(names(informer.byIndex('host', 'h1'))).toEqual(['a', 'b']);

    await client.create(VMS, vm('c', 'h2'));
    client.setStatus(VMS, 'ns', 'a', { host: 'h2' });
    client.setStatus(VMS, 'ns', 'b', {});
    await client.idle();
    await waitFor(() => informer.byIndex('host', 'h2').length === 2);
    expect(names(informer.byIndex('host', 'h2'))).toEqual(['a', 'c']);
    expect(informer.byIndex('host', 'h1')).toEqual([]);

    client.delete(VMS, 'ns', 'c');
    await client.idle();
    await waitFor(() => informer.byIndex('host', 'h2').length === 1);
    expect(names(informer.byIndex('host', 'h2'))).toEqual(['a']);
    expect(informer.byIndex('host', 'nowhere')).toEqual([]);
    expect(() => informer.byIndex('missing', 'x')).toThrow(/no index missing/);
  });

  it('finds objects by UID, forgetting deleted ones and following a re-creation under the same name', async () => {
    const client = new FakeObjectClient();
    const first = await client.create(VMS, vm('a'));
    const informer = await started(client);
    expect(informer.getByUid(first.metadata.uid!)?.metadata.name).toBe('a');

    client.delete(VMS, 'ns', 'a');
    const second = await client.create(VMS, vm('a'));
    await client.idle();
    await waitFor(() => informer.getByUid(second.metadata.uid!) !== undefined);
    expect(informer.getByUid(first.metadata.uid!)).toBeUndefined();
    expect(informer.getByUid('no-such-uid')).toBeUndefined();
  });

  it('keeps indexes right across a relist after 410 Gone', async () => {
    const client = new FakeObjectClient();
    const a = await client.create(VMS, vm('a', 'h1'));
    await client.create(VMS, vm('b', 'h1'));
    const informer = new Informer(client, VMS, undefined, silentLogger, { backoffBaseMs: 30, backoffMaxMs: 30 });
    informers.push(informer);
    informer.start();
    await informer.waitForSync();
    await waitFor(() => client.activeWatches(VMS) === 1);
    informer.addIndex('host', byHost);
    // Changes the informer misses (its watch broke, it is backing off), then the history is compacted.
    client.endWatches(VMS, new Error('connection reset by peer'));
    client.delete(VMS, 'ns', 'a');
    client.setStatus(VMS, 'ns', 'b', { host: 'h3' });
    client.compact(VMS);
    await waitFor(() => informer.byIndex('host', 'h3').length === 1, 5000);
    expect(informer.byIndex('host', 'h1')).toEqual([]);
    expect(informer.getByUid(a.metadata.uid!)).toBeUndefined();
  });

  it('leaves an object out of an index whose function throws, and keeps caching it', async () => {
    const client = new FakeObjectClient();
    await client.create(VMS, vm('a', 'h1'));
    const informer = await started(client);
    informer.addIndex('bad', () => {
      throw new Error('boom');
    });
    expect(informer.byIndex('bad', 'h1')).toEqual([]);
    expect(informer.get('ns/a')).toBeDefined();
  });
});
