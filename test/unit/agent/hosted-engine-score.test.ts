/** The hosted-engine score: 3400 minus ovirt-ha-agent's penalties. */
import { computeScore, cpuLoadPenalty, MAX_SCORE, PENALTIES, type ScoreObservations } from '../../../src/agent/hosted-engine/score.js';

const healthy: ScoreObservations = {
  gatewayReachable: true,
  loadPerCpu: 0.1,
  memAvailableMiB: 8192,
  engineMemoryMiB: 4096,
  runsEngine: false,
  bridgePresent: true,
  configStale: false,
};

describe('hosted-engine score', () => {
  it('is 3400 with no penalty for a healthy node', () => {
    expect(computeScore(healthy)).toEqual({ score: MAX_SCORE, penalties: {} });
  });

  it.each([
    ['gateway', { gatewayReachable: false }, 1600],
    ['bridge', { bridgePresent: false }, 600],
    ['staleConfig', { configStale: true }, 1000],
    ['freeMemory', { memAvailableMiB: 1024 }, 400],
    ['cpuLoad', { loadPerCpu: 5 }, 1000],
  ] as const)('takes %s off: %p → −%d', (name, change, points) => {
    const s = computeScore({ ...healthy, ...change });
    expect(s.penalties).toEqual({ [name]: points });
    expect(s.score).toBe(MAX_SCORE - points);
  });

  it('adds penalties up and never goes below 0', () => {
    const all = computeScore({ gatewayReachable: false, loadPerCpu: 3, memAvailableMiB: 0, engineMemoryMiB: 1, runsEngine: false, bridgePresent: false, configStale: true });
    expect(all.penalties).toEqual({ gateway: 1600, cpuLoad: 1000, staleConfig: 1000, bridge: 600, freeMemory: 400 });
    expect(all.score).toBe(0);
    expect(Object.values(PENALTIES).reduce((a, b) => a + b, 0)).toBeGreaterThan(MAX_SCORE);
  });

  it('does not count the Manager VM memory against the node already running it', () => {
    expect(computeScore({ ...healthy, memAvailableMiB: 100, runsEngine: true }).penalties).toEqual({});
  });

  it('scales the CPU penalty linearly from 0.4 to 0.9 load per CPU', () => {
    expect(cpuLoadPenalty(0.4)).toBe(0);
    expect(cpuLoadPenalty(0.65)).toBe(500);
    expect(cpuLoadPenalty(0.9)).toBe(1000);
    expect(cpuLoadPenalty(12)).toBe(1000);
    expect(cpuLoadPenalty(Number.NaN)).toBe(0);
  });
});
