import { describe, expect, it } from '@jest/globals';
import { AgentApiError } from '../../../src/api/agent/index.js';
import { AgentMetrics } from '../../../src/operator/agent-metrics.js';
import type { LinkClient } from '../../../src/operator/agents/link.js';
import { Registry } from '../../../src/runtime/metrics.js';
import { sample } from './metrics-text.js';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A link client whose verbs answer after 30 ms, refuse (409), or never reach the agent. */
function client(): LinkClient {
  const fake: Record<string, unknown> = {
    stats: async () => {
      await delay(30);
      return { memoryFreeBytes: 1 };
    },
    startVm: async () => {
      throw new AgentApiError(409, 'LeaseHeld', 'another host holds the disk');
    },
    getVm: async () => {
      throw new AgentApiError(0, 'Unreachable', 'connect ECONNREFUSED');
    },
    close: () => undefined,
    // The event stream reads `this`: it must be the real client, and is no timed verb.
    events(this: unknown) {
      return this === fake;
    },
  };
  return fake as unknown as LinkClient;
}

describe('agent round-trip metrics', () => {
  it('times answered verbs (errors answered by the agent included) and heartbeats per host', async () => {
    const registry = new Registry();
    const metrics = new AgentMetrics(registry);
    const c = metrics.clientFactory(() => client())({ host: '10.0.0.11', port: 54321, tls: {} as never, expectedName: 'host-1' });

    await expect(c.stats()).resolves.toEqual({ memoryFreeBytes: 1 });
    await expect(c.startVm('uid' as never)).rejects.toThrow('another host holds the disk');
    await expect(c.getVm('uid' as never)).rejects.toThrow('ECONNREFUSED');
    c.close();
    expect((c.events as unknown as () => boolean)()).toBe(true);

    const text = registry.metrics();
    expect(sample(text, 'drover_agent_request_duration_seconds_count', { verb: 'stats' })).toBe(1);
    expect(sample(text, 'drover_agent_request_duration_seconds_count', { verb: 'startVm' })).toBe(1);
    // No answer, no round trip.
    expect(sample(text, 'drover_agent_request_duration_seconds_count', { verb: 'getVm' })).toBeUndefined();
    expect(sample(text, 'drover_agent_request_duration_seconds_count', { verb: 'close' })).toBeUndefined();
    expect(sample(text, 'drover_agent_request_duration_seconds_count', { verb: 'events' })).toBeUndefined();
    expect(sample(text, 'drover_agent_heartbeat_duration_seconds_count', { host: 'host-1' })).toBe(1);
    const seconds = sample(text, 'drover_agent_heartbeat_duration_seconds_sum', { host: 'host-1' })!;
    expect(seconds).toBeGreaterThanOrEqual(0.025);
    expect(seconds).toBeLessThan(5);
    // At least 30 ms: above the 16 ms bucket (a loaded machine may take longer, never less).
    expect(sample(text, 'drover_agent_heartbeat_duration_seconds_bucket', { host: 'host-1', le: '0.016' })).toBe(0);
    expect(sample(text, 'drover_agent_heartbeat_duration_seconds_bucket', { host: 'host-1', le: '+Inf' })).toBe(1);
  });
});
