/**
 * Round-trip latency of the operator's calls to host agents. The connection
 * manager builds each link's client through {@link AgentMetrics.clientFactory},
 * which times every verb; the heartbeat (`stats`) is also kept per host, so a
 * slow or struggling agent shows up before it stops answering.
 *
 * Only calls the agent answered count (including error answers such as 409 or
 * 503): a timeout or a refused connection is no round trip, and shows up as
 * the Host's phase instead.
 */
import { AgentClient, type AgentClientOptions } from '../agent/client/index.js';
import { isAnswer } from './agents/classify.js';
import type { LinkClient } from './agents/link.js';
import { exponentialBuckets, type Histogram, type Registry } from '../runtime/metrics.js';

/** Names of the families {@link AgentMetrics} registers. */
export const AGENT_METRICS = {
  request: 'drover_agent_request_duration_seconds',
  heartbeat: 'drover_agent_heartbeat_duration_seconds',
} as const;

/** 1 ms to ~33 s, doubling: heartbeats take milliseconds, a VM start seconds. */
const BUCKETS = exponentialBuckets(0.001, 2, 16);

/** Methods of a link client that are not request/answer verbs. */
const NOT_VERBS = new Set(['events', 'close', 'constructor']);

/** The agent latency histograms, and the client factory that feeds them. */
export class AgentMetrics {
  /** drover_agent_request_duration_seconds{verb}. */
  readonly request: Histogram<'verb'>;
  /** drover_agent_heartbeat_duration_seconds{host}. */
  readonly heartbeat: Histogram<'host'>;

  /** @param registry where the histograms are registered. */
  constructor(registry: Registry) {
    this.request = registry.histogram({
      name: AGENT_METRICS.request,
      help: 'Round trip of answered operator-to-agent API calls, by verb',
      labelNames: ['verb'],
      buckets: BUCKETS,
    });
    this.heartbeat = registry.histogram({
      name: AGENT_METRICS.heartbeat,
      help: 'Round trip of answered heartbeats (stats) to each Host agent',
      labelNames: ['host'],
      buckets: BUCKETS,
    });
  }

  /** Wraps `client` so each answered verb is timed; `host` labels the heartbeat series. */
  wrap(client: LinkClient, host: string): LinkClient {
    const observe = (verb: string, startedAt: number) => {
      const seconds = (performance.now() - startedAt) / 1000;
      this.request.observe({ verb }, seconds);
      if (verb === 'stats') this.heartbeat.observe({ host }, seconds);
    };
    return new Proxy(client, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        // Bound to the real client, so its own internal calls are never timed as verbs.
        if (typeof property !== 'string' || NOT_VERBS.has(property)) return (value as (...a: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          const startedAt = performance.now();
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (answer: unknown) => {
              observe(property, startedAt);
              return answer;
            },
            (error: unknown) => {
              if (isAnswer(error)) observe(property, startedAt);
              throw error;
            },
          );
        };
      },
    });
  }

  /** A client factory for the agent connection manager: real {@link AgentClient}s, timed. */
  clientFactory(create: (options: AgentClientOptions) => LinkClient = (o) => new AgentClient(o)): (options: AgentClientOptions) => LinkClient {
    return (options) => this.wrap(create(options), options.expectedName ?? options.host);
  }
}
