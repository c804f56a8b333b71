/** A hosted-engine node record for the unit tests: a live, healthy standby unless `over` says otherwise. */
import type { NodeRecord } from '../../../../src/agent/hosted-engine/metadata.js';

export function nodeRecord(name: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name,
    bootId: 'boot-1',
    seq: 1,
    writtenAt: '2026-11-26T06:00:00.000Z',
    score: 3400,
    penalties: {},
    state: 'EngineDown',
    localMaintenance: false,
    engineRunning: false,
    engineHealth: 'unknown',
    configVersion: 1,
    ...over,
  };
}
