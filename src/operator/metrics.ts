/**
 * Every metric the operator exports on /metrics, on one registry: process
 * metrics, the controller-runtime families, agent round-trip latency and the
 * environment's gauges. The PrometheusRule and Grafana dashboard in
 * deploy/monitoring use only these names (a unit test checks it).
 */
import { Registry, RuntimeMetrics, defaultProcessMetrics } from '../runtime/metrics.js';
import { AgentMetrics } from './agent-metrics.js';
import { registerDomainMetrics, type DomainMetricsSource } from './domain-metrics.js';

/** The operator's metrics. */
export interface OperatorMetrics {
  registry: Registry;
  /** Hooks for controllers, work queues and leader election. */
  runtime: RuntimeMetrics;
  /** Agent round trips (wraps the agent clients). */
  agents: AgentMetrics;
  /** How long a request to the API server waited for the client-side limit (0 when it did not). */
  rateLimiterWait(waitedMs: number): void;
}

/** Creates the registry with every family the operator exports. */
export function createOperatorMetrics(source: DomainMetricsSource): OperatorMetrics {
  const registry = new Registry();
  defaultProcessMetrics(registry);
  const runtime = new RuntimeMetrics(registry);
  const agents = new AgentMetrics(registry);
  registerDomainMetrics(registry, source);
  // client-go's name for the same thing (its labels verb and host left out).
  const rateLimiterDuration = registry.histogram({
    name: 'rest_client_rate_limiter_duration_seconds',
    help: 'Client side rate limiter latency in seconds (--kube-api-qps, --kube-api-burst)',
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
  });
  return { registry, runtime, agents, rateLimiterWait: (waitedMs) => rateLimiterDuration.observe(waitedMs / 1000) };
}
