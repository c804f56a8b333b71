import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AGENT_ROUTES, buildPath, type AgentRouteId } from '../../../src/api/agent/index.js';
import { startAgent, type Harness } from './support/harness.js';
import { Rng, mutate, randomJson, randomString } from './support/random.js';
import { GIB, UID, seedStorage, vmSpec } from './support/specs.js';

const SEED = 20260515;
const ROUNDS = 3000;

/** Every route that takes a body, with valid parameters and a valid body to start mutating from. */
const TARGETS: { id: AgentRouteId; params: Record<string, string>; valid: unknown }[] = [
  { id: 'vmDefine', params: { uid: UID }, valid: vmSpec() },
  { id: 'vmStart', params: { uid: UID }, valid: {} },
  { id: 'vmStop', params: { uid: UID }, valid: { timeoutSeconds: 1 } },
  { id: 'vmDestroy', params: { uid: UID }, valid: {} },
  { id: 'vmPause', params: { uid: UID }, valid: {} },
  { id: 'vmResume', params: { uid: UID }, valid: {} },
  { id: 'vmMigrate', params: { uid: UID }, valid: { destinationURI: 'qemu+tcp://10.0.0.12/system', bandwidthMiBps: 100 } },
  { id: 'storageConnect', params: { name: 'fuzz' }, valid: { connection: { type: 'NFS', server: 'nfs', path: '/exports/fuzz' } } },
  { id: 'storageFormat', params: { name: 'data' }, valid: { uuid: '11111111-2222-4333-8444-555555555555', role: 'Data' } },
  { id: 'volumeCreate', params: { name: 'data', volume: 'fuzz' }, valid: { sizeBytes: GIB, format: 'qcow2' } },
  { id: 'volumeResize', params: { name: 'data', volume: 'root' }, valid: { sizeBytes: 20 * GIB } },
];

let h: Harness;
beforeAll(async () => {
  h = await startAgent();
  seedStorage(h.storage);
  // Guests ignore nothing here: a valid stop ends quickly.
  h.driver.shutdownDelayMs = 1;
});
afterAll(async () => {
  await h.close();
});

const mutations = () => h.driver.mutatingCalls().length + h.storage.mutatingCalls().length;

describe('fuzzing the PUT/POST endpoints', () => {
  it(`${ROUNDS} generated requests: never a 5xx, never a change unless the request is valid`, async () => {
    const rng = new Rng(SEED);
    const stats = { valid: 0, invalid: 0, statuses: new Map<number, number>() };
    for (let round = 0; round < ROUNDS; round++) {
      const target = rng.pick(TARGETS);
      const route = AGENT_ROUTES[target.id];
      const params = { ...target.params };
      if (rng.chance(0.1)) {
        const key = rng.pick(Object.keys(params));
        params[key] = randomString(rng) || 'x';
      }
      let raw: string;
      let body: unknown;
      const kind = rng.int(10);
      if (kind < 5) body = mutate(rng, target.valid);
      else if (kind < 6) body = target.valid;
      else if (kind < 9) body = randomJson(rng);
      else body = undefined;
      if (body === undefined) raw = rng.chance(0.5) ? randomString(rng) : JSON.stringify(randomJson(rng)).slice(0, rng.int(50));
      else raw = JSON.stringify(body);

      let parsedBody: unknown;
      let json = true;
      try {
        parsedBody = raw.trim() === '' ? {} : JSON.parse(raw);
      } catch {
        json = false;
      }
      const valid = json && route.params.safeParse(params).success && route.body !== undefined && route.body.safeParse(parsedBody).success;

      const before = mutations();
      const res = await h.call(route.method, buildPath(route.path, params), undefined, { raw });
      const context = { round, id: target.id, params, raw: raw.slice(0, 300), status: res.status, answer: res.text.slice(0, 300) };
      stats.statuses.set(res.status, (stats.statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) throw new Error(`5xx: ${JSON.stringify(context)}`);
      if (!valid) {
        stats.invalid++;
        if (res.status < 400 || mutations() !== before) throw new Error(`invalid request accepted or changed something: ${JSON.stringify(context)}`);
        expect(res.body?.error?.code).toBe(res.status);
      } else {
        stats.valid++;
      }
    }
    // The generator must exercise both sides: plenty of invalid requests and some valid ones.
    expect(stats.invalid).toBeGreaterThan(ROUNDS / 2);
    expect(stats.valid).toBeGreaterThan(50);
    expect([...stats.statuses.keys()].every((s) => s < 500)).toBe(true);
  }, 120_000);
});
