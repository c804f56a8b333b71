import { afterEach, describe, expect, it } from '@jest/globals';
import { Informer, objectKey, type InformerOptions } from '../../../src/kube/informer.js';
import { ApiError, type KubeObject, type ResourceType } from '../../../src/kube/types.js';
import { FakeObjectClient } from '../support/fake-client.js';
import { silentLogger, waitFor } from '../support/operator-context.js';

const WIDGETS: ResourceType = { group: 'example.io', version: 'v1', plural: 'widgets', kind: 'Widget' };
const OTHER: ResourceType = { group: 'example.io', version: 'v1', plural: 'gadgets', kind: 'Gadget' };

const widget = (name: string, namespace = 'ns', spec: unknown = { size: 1 }): KubeObject => ({
  apiVersion: 'example.io/v1',
  kind: 'Widget',
  metadata: { name, namespace },
  spec,
});

/** Records handler calls as short strings. */
function recordHandlers(informer: Informer): string[] {
  const log: string[] = [];
  informer.addHandlers({
    onAdd: (o) => log.push(`add ${objectKey(o)}`),
    onUpdate: (a, b) => log.push(`update ${objectKey(b)} ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
    onDelete: (o) => log.push(`delete ${objectKey(o)}`),
  });
  return log;
}

const informers: Informer[] = [];
function newInformer(client: FakeObjectClient, options: InformerOptions = { backoffBaseMs: 1, backoffMaxMs: 5 }, namespace?: string): Informer {
  const i = new Informer(client, WIDGETS, namespace, silentLogger, options);
  informers.push(i);
  return i;
}

/** Starts `informer` and waits until its watch is open and has replayed. */
async function startAndWatch(client: FakeObjectClient, informer: Informer): Promise<void> {
  informer.start();
  await informer.waitForSync();
  await waitFor(() => client.activeWatches(WIDGETS) === 1);
  await client.idle();
}

const lastWatch = (client: FakeObjectClient) => client.calls.watch[client.calls.watch.length - 1]!;

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

describe('Informer: list then watch', () => {
  it('is not synced until the first list is applied, then watches from the list resourceVersion', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    await client.create(WIDGETS, widget('b'));
    const rvAfterCreates = client.currentResourceVersion();
    const release = client.holdLists();
    const informer = newInformer(client);
    const log = recordHandlers(informer);
    let synced = false;
    void informer.waitForSync().then(() => (synced = true));
    informer.start();
    await new Promise((r) => setTimeout(r, 10));
    expect(informer.hasSynced()).toBe(false);
    expect(synced).toBe(false);
    expect(informer.list()).toEqual([]);

    release();
    await informer.waitForSync();
    expect(informer.hasSynced()).toBe(true);
    expect(log).toEqual(['add ns/a', 'add ns/b']);
    await waitFor(() => client.calls.watch.length === 1);
    expect(client.calls.list).toHaveLength(1);
    expect(client.calls.watch[0]).toMatchObject({ plural: 'widgets', resourceVersion: rvAfterCreates });
    // waitForSync after sync resolves at once
    await expect(informer.waitForSync()).resolves.toBeUndefined();
  });

  it('passes its namespace to list and watch and fills in apiVersion/kind missing from list items', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, { metadata: { name: 'bare', namespace: 'ns' }, spec: {} });
    await client.create(WIDGETS, widget('elsewhere', 'other-ns'));
    const informer = newInformer(client, undefined, 'ns');
    await startAndWatch(client, informer);
    expect(client.calls.list[0]).toMatchObject({ namespace: 'ns' });
    expect(lastWatch(client)).toMatchObject({ namespace: 'ns' });
    expect(informer.list().map(objectKey)).toEqual(['ns/bare']);
    expect(informer.get('ns/bare')).toMatchObject({ apiVersion: 'example.io/v1', kind: 'Widget' });
  });

  it('applies ADDED, MODIFIED and DELETED events to the cache and calls the handlers with old and new objects', async () => {
    const client = new FakeObjectClient();
    const informer = newInformer(client);
    const log = recordHandlers(informer);
    const updates: [unknown, unknown][] = [];
    informer.addHandlers({ onUpdate: (a, b) => updates.push([a.spec, b.spec]) });
    await startAndWatch(client, informer);

    const a = await client.create(WIDGETS, widget('a'));
    await client.create(WIDGETS, widget('b', 'ns2'));
    client.update(WIDGETS, 'ns', 'a', (o) => (o.spec = { size: 2 }));
    const updatedRv = client.currentResourceVersion();
    client.delete(WIDGETS, 'ns2', 'b');

    expect(log).toEqual(['add ns/a', 'add ns2/b', `update ns/a ${a.metadata.resourceVersion}->${updatedRv}`, 'delete ns2/b']);
    expect(updates).toEqual([[{ size: 1 }, { size: 2 }]]);
    expect(informer.get('ns/a')?.spec).toEqual({ size: 2 });
    expect(informer.get('ns2/b')).toBeUndefined();
    expect(informer.list('ns').map(objectKey)).toEqual(['ns/a']);
    expect(informer.list('ns2')).toEqual([]);
  });

  it('replays cached objects as adds to handlers registered late', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    await client.create(WIDGETS, widget('b'));
    const informer = newInformer(client);
    await startAndWatch(client, informer);
    const log = recordHandlers(informer);
    expect(log.sort()).toEqual(['add ns/a', 'add ns/b']);
  });
});

describe('Informer: resuming and relisting', () => {
  it('resumes a normally ended watch from the last resourceVersion without relisting or missing events', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    const informer = newInformer(client);
    const log = recordHandlers(informer);
    await startAndWatch(client, informer);
    await client.create(WIDGETS, widget('b'));
    const seenRv = client.currentResourceVersion();

    client.endWatches(WIDGETS); // server timeout: a normal end
    // Changes while no watch is open are replayed by the next watch.
    await client.create(WIDGETS, widget('c'));
    client.delete(WIDGETS, 'ns', 'a');
    await waitFor(() => client.calls.watch.length === 2 && client.activeWatches(WIDGETS) === 1);
    await client.idle();

    expect(client.calls.list).toHaveLength(1);
    expect(client.calls.watch[1]!.resourceVersion).toBe(seenRv);
    expect(log).toEqual(['add ns/a', 'add ns/b', 'add ns/c', 'delete ns/a']);
    expect(informer.list().map(objectKey).sort()).toEqual(['ns/b', 'ns/c']);
    expect(informer.stats).toMatchObject({ lists: 1, watches: 2, relistsOnGone: 0 });
  });

  it('moves its resourceVersion forward on BOOKMARK without calling handlers', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    const informer = newInformer(client);
    const log = recordHandlers(informer);
    await startAndWatch(client, informer);
    await client.create(OTHER, { metadata: { name: 'x', namespace: 'ns' } }); // moves the global counter
    const bookmarkRv = client.bookmark(WIDGETS, 3);
    expect(log).toEqual(['add ns/a']);
    expect(informer.list()).toHaveLength(1);

    client.endWatches(WIDGETS);
    await waitFor(() => client.calls.watch.length === 2);
    expect(client.calls.watch[1]!.resourceVersion).toBe(bookmarkRv);
    expect(Number(bookmarkRv)).toBeGreaterThan(Number(client.calls.watch[0]!.resourceVersion));
  });

  /** Opens a gap (the watch breaks), changes things inside it, then compacts history. */
  async function gapScenario(goneMode: 'event' | 'http') {
    const client = new FakeObjectClient();
    client.goneMode = goneMode;
    await client.create(WIDGETS, widget('keep'));
    await client.create(WIDGETS, widget('change'));
    await client.create(WIDGETS, widget('remove'));
    const informer = newInformer(client, { backoffBaseMs: 30, backoffMaxMs: 30 });
    const log = recordHandlers(informer);
    await startAndWatch(client, informer);
    log.length = 0;
    const oldRv = client.currentResourceVersion();

    client.endWatches(WIDGETS, new Error('connection reset by peer'));
    // Inside the gap (the informer is backing off for 30 ms):
    client.delete(WIDGETS, 'ns', 'remove');
    client.update(WIDGETS, 'ns', 'change', (o) => (o.spec = { size: 9 }));
    await client.create(WIDGETS, widget('new'));
    client.compact(WIDGETS);
    const listRv = client.currentResourceVersion();

    await waitFor(() => informer.stats.relistsOnGone === 1 && client.activeWatches(WIDGETS) === 1);
    await client.idle();
    return { client, informer, log, oldRv, listRv };
  }

  it('relists on 410 Gone from the watch (onDone) and emits the deletes, updates and adds it missed', async () => {
    const { client, informer, log, oldRv, listRv } = await gapScenario('http');
    expect(client.calls.watch.map((w) => w.resourceVersion)).toEqual([oldRv, oldRv, listRv]);
    expect(client.calls.list).toHaveLength(2);
    expect(log.filter((l) => l.startsWith('delete'))).toEqual(['delete ns/remove']);
    expect(log.filter((l) => l.startsWith('update')).map((l) => l.split(' ')[1])).toEqual(['ns/change']);
    expect(log.filter((l) => l.startsWith('add'))).toEqual(['add ns/new']);
    expect(log).toHaveLength(3); // nothing for the unchanged object
    expect(informer.list().map(objectKey).sort()).toEqual(['ns/change', 'ns/keep', 'ns/new']);
    expect(informer.get('ns/change')?.spec).toEqual({ size: 9 });
  });

  it('relists on an ERROR event with code 410 the same way', async () => {
    const { client, informer, log, listRv } = await gapScenario('event');
    expect(lastWatch(client).resourceVersion).toBe(listRv);
    expect(informer.stats.relistsOnGone).toBe(1);
    // resourceVersions: keep 1, change 2, remove 3; in the gap: delete 4, update 5, new 6
    expect([...log].sort()).toEqual(['add ns/new', 'delete ns/remove', 'update ns/change 2->5']);
  });

  it('stops the watch itself after an ERROR 410 event even if the server keeps the stream open', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    const informer = newInformer(client);
    await startAndWatch(client, informer);
    client.sendError(WIDGETS, 410, false);
    await waitFor(() => informer.stats.relistsOnGone === 1 && client.calls.list.length === 2);
    expect(client.calls.watchStops).toBe(1);
    await waitFor(() => client.activeWatches(WIDGETS) === 1);
    expect(client.calls.watch).toHaveLength(2);
  });

  it('re-watches from the same resourceVersion without relisting after a non-410 ERROR event', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    const informer = newInformer(client);
    await startAndWatch(client, informer);
    const rv = client.calls.watch[0]!.resourceVersion;
    client.sendError(WIDGETS, 500);
    await waitFor(() => client.calls.watch.length === 2);
    expect(client.calls.watch[1]!.resourceVersion).toBe(rv);
    expect(client.calls.list).toHaveLength(1);
    expect(informer.stats.relistsOnGone).toBe(0);
    expect(informer.get('ns/a')).toBeDefined();
  });

  it('treats an idle TimeoutError from the client as a normal end: same resourceVersion, no relist', async () => {
    const client = new FakeObjectClient();
    const informer = newInformer(client, { backoffBaseMs: 10_000, backoffMaxMs: 10_000 });
    await startAndWatch(client, informer);
    const timeout = new Error('idle');
    timeout.name = 'TimeoutError';
    client.endWatches(WIDGETS, timeout);
    // A failure would back off for 10 s; an idle end re-watches at once.
    await waitFor(() => client.calls.watch.length === 2, 1000);
    expect(client.calls.watch[1]!.resourceVersion).toBe(client.calls.watch[0]!.resourceVersion);
    expect(client.calls.list).toHaveLength(1);
  });
});

describe('Informer: failures and stopping', () => {
  it('retries a failing list with exponential backoff and syncs once it succeeds', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    client.failNextList(new ApiError('boom', 500), new ApiError('boom', 500), new ApiError('boom', 500));
    const informer = newInformer(client, { backoffBaseMs: 20, backoffMaxMs: 1000 });
    informer.start();
    await informer.waitForSync();
    expect(client.calls.list).toHaveLength(4);
    const at = client.calls.list.map((c) => c.at);
    const gaps = [at[1]! - at[0]!, at[2]! - at[1]!, at[3]! - at[2]!];
    // 20, 40, 80 ms, each with up to 20 % jitter (timers may fire ~1 ms early on coarse clocks)
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
    expect(informer.get('ns/a')).toBeDefined();
  });

  it('caps the backoff at backoffMaxMs', async () => {
    const client = new FakeObjectClient();
    client.failNextList(...Array.from({ length: 4 }, () => new Error('down')));
    const informer = newInformer(client, { backoffBaseMs: 20, backoffMaxMs: 25 });
    informer.start();
    await informer.waitForSync();
    const at = client.calls.list.map((c) => c.at);
    // uncapped, the 4th delay would be 160 ms
    expect(at[4]! - at[3]!).toBeGreaterThanOrEqual(24);
    expect(at[4]! - at[3]!).toBeLessThan(100);
  });

  it('retries a failed watch from the same resourceVersion and resets the backoff after a healthy watch', async () => {
    const client = new FakeObjectClient();
    client.failNextWatch(new Error('refused'), new Error('refused'));
    const informer = newInformer(client, { backoffBaseMs: 40, backoffMaxMs: 10_000 });
    informer.start();
    await waitFor(() => client.activeWatches(WIDGETS) === 1);
    expect(client.calls.watch).toHaveLength(3);
    expect(new Set(client.calls.watch.map((w) => w.resourceVersion)).size).toBe(1);
    expect(client.calls.list).toHaveLength(1);
    const at = client.calls.watch.map((c) => c.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(39);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(79);

    // The healthy watch ends normally; the next attempt fails once more.
    client.failNextWatch(new Error('refused'));
    client.endWatches(WIDGETS);
    await waitFor(() => client.activeWatches(WIDGETS) === 1);
    const at2 = client.calls.watch.map((c) => c.at);
    expect(client.calls.watch).toHaveLength(5);
    const gap = at2[4]! - at2[3]!;
    // reset: back to 40 ms (+20 %), not the 160 ms a third consecutive failure would wait
    expect(gap).toBeGreaterThanOrEqual(39);
    expect(gap).toBeLessThan(120);
  });

  it('backs off when the watch ends with an error and keeps its resourceVersion', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    const informer = newInformer(client, { backoffBaseMs: 30, backoffMaxMs: 30 });
    await startAndWatch(client, informer);
    const ended = performance.now();
    client.endWatches(WIDGETS, new ApiError('internal error', 500));
    await waitFor(() => client.calls.watch.length === 2);
    expect(client.calls.watch[1]!.at - ended).toBeGreaterThanOrEqual(29);
    expect(client.calls.watch[1]!.resourceVersion).toBe(client.calls.watch[0]!.resourceVersion);
    expect(client.calls.list).toHaveLength(1);
  });

  it('stop() closes the open watch, starts no new one and keeps the cache readable', async () => {
    const client = new FakeObjectClient();
    await client.create(WIDGETS, widget('a'));
    const informer = newInformer(client);
    await startAndWatch(client, informer);
    await informer.stop();
    expect(client.activeWatches(WIDGETS)).toBe(0);
    expect(client.calls.watchStops).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(client.calls.watch).toHaveLength(1);
    expect(informer.get('ns/a')).toBeDefined();
  });

  it('stop() during a backoff returns without waiting for it', async () => {
    const client = new FakeObjectClient();
    client.failNextList(new Error('down'));
    const informer = newInformer(client, { backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    informer.start();
    await waitFor(() => client.calls.list.length === 1);
    await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await informer.stop();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(client.calls.list).toHaveLength(1);
    expect(informer.hasSynced()).toBe(false);
  });
});
