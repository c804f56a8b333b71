import { afterEach, describe, expect, it } from '@jest/globals';
import type { DomainEvent } from '../../../src/hypervisor/driver.js';
import { FakeDriver } from './support/fakes.js';
import { startAgent, type Harness, type HarnessOptions } from './support/harness.js';
import { openStream } from './support/sse.js';
import { FOREIGN_UID, UID } from './support/specs.js';

let h: Harness | undefined;
async function agent(options: HarnessOptions = {}): Promise<Harness> {
  h = await startAgent(options);
  return h;
}
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('GET /v1/events (Server-Sent Events)', () => {
  it('delivers a hypervisor lifecycle event to a connected client within 1 s, with an increasing id', async () => {
    const a = await agent();
    const stream = await openStream(a);
    expect(stream.status).toBe(200);
    await stream.until(() => stream.raw().includes('retry:'));
    const sent = Date.now();
    a.driver.emit(UID, 'started', 'booted');
    a.driver.emit(UID, 'suspended', 'paused');
    await stream.until(() => stream.messages.length >= 2, 1000);
    expect(Date.now() - sent).toBeLessThan(1000);
    const [first, second] = stream.events();
    expect(first).toMatchObject({ type: 'VmLifecycle', uid: UID, event: 'started', detail: 'booted' });
    expect(second).toMatchObject({ type: 'VmLifecycle', event: 'suspended', detail: 'paused' });
    expect(stream.messages.map((m) => m.event)).toEqual(['VmLifecycle', 'VmLifecycle']);
    if (first?.type !== 'VmLifecycle' || second?.type !== 'VmLifecycle') throw new Error('unexpected event types');
    expect(second.seq).toBe(first.seq + 1);
    expect(stream.messages[0]?.id).toBe(first.id);
    expect(first.id).toMatch(/^boot1-\d+$/);
    stream.close();
  });

  it('replays what a client missed after Last-Event-ID, in order, without duplicates', async () => {
    const a = await agent();
    const s1 = await openStream(a);
    await s1.until(() => s1.raw().includes('retry:'));
    a.driver.emit(UID, 'started', 'booted');
    await s1.until(() => s1.messages.length === 1);
    const lastId = s1.messages[0]?.id as string;
    s1.close();
    await s1.ended;

    a.driver.emit(UID, 'suspended', 'paused');
    a.driver.emit(UID, 'resumed', 'unpaused');
    await new Promise((r) => setTimeout(r, 50));

    const s2 = await openStream(a, { 'last-event-id': lastId });
    a.driver.emit(UID, 'stopped', 'destroyed');
    await s2.until(() => s2.messages.length >= 3);
    expect(s2.events().map((e) => (e.type === 'VmLifecycle' ? e.event : e.type))).toEqual(['suspended', 'resumed', 'stopped']);
    s2.close();
  });

  it('starts with EventsLost when it cannot replay (another boot, or older than the ring), then sends what the ring holds', async () => {
    const a = await agent({ eventRingSize: 3 });
    for (let i = 0; i < 6; i++) a.driver.emit(UID, 'defined', `n${i}`);
    await new Promise((r) => setTimeout(r, 50));

    const otherBoot = await openStream(a, { 'last-event-id': 'oldboot-42' });
    await otherBoot.until(() => otherBoot.messages.length >= 4);
    const events = otherBoot.events();
    expect(events[0]?.type).toBe('EventsLost');
    expect(otherBoot.messages[0]?.id).toBeUndefined();
    expect(events.slice(1).map((e) => (e.type === 'VmLifecycle' ? e.detail : e.type))).toEqual(['n3', 'n4', 'n5']);
    otherBoot.close();

    const tooOld = await openStream(a, { 'last-event-id': 'boot1-1' });
    await tooOld.until(() => tooOld.messages.length >= 1);
    expect(tooOld.events()[0]?.type).toBe('EventsLost');
    tooOld.close();
  });

  it('includes host events: AgentStarted and orphans found at start', async () => {
    const driver = new FakeDriver();
    driver.addForeign(FOREIGN_UID, 'hand-made', 'running');
    const a = await agent({ driver });
    const s = await openStream(a, { 'last-event-id': 'boot1-0' });
    await s.until(() => s.messages.length >= 2);
    const [started, orphan] = s.events();
    expect(started).toMatchObject({ type: 'AgentStarted', version: '0.1.0-test', bootId: 'boot1', seq: 1 });
    expect(orphan).toMatchObject({ type: 'OrphanDomain', uid: FOREIGN_UID, name: 'hand-made', state: 'running' });
    s.close();
  });

  it('reports storage domain health changes', async () => {
    const a = await agent({ storagePollMs: 20 });
    // Subscribed before the domain appears: a watch poll between seeding and
    // subscribing would publish the healthy state to nobody.
    const s = await openStream(a);
    a.storage.seed('data');
    await s.until(() => s.events().some((e) => e.type === 'StorageDomainHealth' && e.ok === true));
    a.storage.setHealth('data', false, 'read timeout after 10 s');
    await s.until(() => s.events().some((e) => e.type === 'StorageDomainHealth' && e.ok === false));
    expect(s.events().find((e) => e.type === 'StorageDomainHealth' && e.ok === false)).toMatchObject({
      domain: 'data',
      connected: true,
      error: 'read timeout after 10 s',
    });
    s.close();
  });

  it('sends heartbeat comments on a quiet stream', async () => {
    const a = await agent({ heartbeatMs: 40 });
    const s = await openStream(a);
    await s.until(() => (s.raw().match(/^: heartbeat /gm) ?? []).length >= 3, 1000);
    expect(s.messages).toEqual([]);
    s.close();
  });

  it('keeps delivering after the hypervisor event stream fails (the agent reconnects to it)', async () => {
    class FlakyDriver extends FakeDriver {
      failures = 1;
      override async *events(signal: AbortSignal): AsyncIterable<DomainEvent> {
        if (this.failures-- > 0) throw new Error('libvirt connection lost');
        yield* super.events(signal);
      }
    }
    const a = await agent({ driver: new FlakyDriver() });
    const s = await openStream(a);
    await new Promise((r) => setTimeout(r, 100));
    a.driver.emit(UID, 'started', 'booted');
    await s.until(() => s.messages.length === 1);
    expect(a.logs.some((l) => l['msg'] === 'hypervisor event stream failed, reconnecting')).toBe(true);
    s.close();
  });

  it('forgets a client that disconnects (and logs the stream like any request)', async () => {
    const a = await agent();
    const s = await openStream(a);
    await s.until(() => s.raw().includes('retry:'));
    s.close();
    const deadline = Date.now() + 2000;
    while (!a.logs.some((l) => l['msg'] === 'request' && l['path'] === '/v1/events' && l['status'] === 200)) {
      if (Date.now() > deadline) throw new Error('stream end not logged');
      await new Promise((r) => setTimeout(r, 5));
    }
    // Publishing after the client left must not fail or write anywhere.
    a.driver.emit(UID, 'started', 'booted');
    expect((await a.call('GET', '/v1/vms')).status).toBe(200);
  });

  it('ends open streams when the agent closes', async () => {
    const a = await agent();
    const s = await openStream(a);
    await a.close();
    h = undefined;
    await s.ended;
  });
});
