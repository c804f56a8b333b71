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
}

/** Creates the registry with every family the operator exports. */
export function createOperatorMetrics(source: DomainMetricsSource): OperatorMetrics {
  const registry = new Registry();
  defaultProcessMetrics(registry);
  const runtime = new RuntimeMetrics(registry);
  const agents = new AgentMetrics(registry);
  registerDomainMetrics(registry, source);
  return { registry, runtime, agents };
}
