/**
 * Liveness of hosted-engine nodes (seq changes on the reader's clock, or
 * wall-clock age for one-shot readers) and the status built from the node
 * records: where the VM runs, its state in one word, dead nodes ignored.
 */
import { LivenessTracker, wallClockAge } from '../../../src/agent/hosted-engine/liveness.js';
import type { NodeRecord } from '../../../src/agent/hosted-engine/metadata.js';
import { buildStatus } from '../../../src/agent/hosted-engine/status.js';
import { nodeRecord } from './support/hosted-engine.js';

const record = nodeRecord;

describe('LivenessTracker', () => {
  it('ages a node from when its current (bootId, seq) was first seen, on the reader\'s clock', () => {
    const t = new LivenessTracker();
    expect(t.observe([record('a')], 1000).get('a')).toBe(0);
    expect(t.observe([record('a')], 6000).get('a')).toBe(5000);
    expect(t.observe([record('a', { seq: 2 })], 7000).get('a')).toBe(0);
    // A restarted agent (new bootId, seq from 1 again) is a change too.
    expect(t.observe([record('a', { bootId: 'b2', seq: 1 })], 9000).get('a')).toBe(0);
  });

  it('ignores the writer\'s wall clock entirely (a far-future or far-past writtenAt changes nothing)', () => {
    const t = new LivenessTracker();
    t.observe([record('a', { writtenAt: '1999-01-01T00:00:00Z' })], 0);
    expect(t.observe([record('a', { writtenAt: '2099-01-01T00:00:00Z' })], 3000).get('a')).toBe(3000);
  });
});

describe('wallClockAge', () => {
  it('is now minus writtenAt, never negative, infinite when unreadable', () => {
    const now = new Date('2026-11-26T06:00:10.000Z');
    expect(wallClockAge(record('a'), now)).toBe(10_000);
    expect(wallClockAge(record('a', { writtenAt: '2026-11-26T07:00:00.000Z' }), now)).toBe(0);
    expect(wallClockAge(record('a', { writtenAt: 'yesterday' }), now)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('buildStatus', () => {
  const base = { storagePath: '/srv/he', hostAliveTimeoutMs: 10_000, globalMaintenance: false, readAt: new Date('2026-11-26T06:00:00.000Z') };

  it('names the live node running the VM and its state in one word', () => {
    const records = [record('n2'), record('n1', { engineRunning: true, engineHealth: 'good', state: 'EngineUp' })];
    const s = buildStatus({ ...base, records, ages: new Map([['n1', 1000], ['n2', 1000]]) });
    expect(s).toMatchObject({ engineHost: 'n1', engineState: 'Up', globalMaintenance: false, storagePath: '/srv/he', readAt: '2026-11-26T06:00:00.000Z' });
    expect(s.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(s.nodes[0]).toEqual({ name: 'n1', score: 3400, state: 'EngineUp', lastUpdate: '2026-11-26T06:00:00.000Z', live: true, localMaintenance: false, engineRunning: true, engineHealth: 'good', penalties: {} });
  });

  it('does not believe a dead node that last said it ran the VM', () => {
    const records = [record('n1', { engineRunning: true, engineHealth: 'good', state: 'EngineUp' }), record('n2')];
    const s = buildStatus({ ...base, records, ages: new Map([['n1', 10_000], ['n2', 100]]) });
    expect(s.engineHost).toBeUndefined();
    expect(s.engineState).toBe('Down');
    expect(s.nodes.find((n) => n.name === 'n1')?.live).toBe(false);
  });

  it.each([
    [{ state: 'EngineStarting', engineHealth: 'bad' }, 'Starting'],
    [{ state: 'EngineUpBadHealth', engineHealth: 'bad' }, 'BadHealth'],
    [{ state: 'GlobalMaintenance', engineHealth: 'unknown' }, 'Unknown'],
  ] as const)('reports %p as %s', (over, word) => {
    const s = buildStatus({ ...base, records: [record('n1', { engineRunning: true, ...over })], ages: new Map([['n1', 0]]) });
    expect(s.engineState).toBe(word);
  });

  it('is Unknown when no node is live, and passes global maintenance through', () => {
    const s = buildStatus({ ...base, globalMaintenance: true, records: [record('n1')], ages: new Map() });
    expect(s).toMatchObject({ engineState: 'Unknown', globalMaintenance: true });
    expect(buildStatus({ ...base, records: [], ages: new Map() })).toMatchObject({ engineState: 'Unknown', nodes: [] });
  });
});
