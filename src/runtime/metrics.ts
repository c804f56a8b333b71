/**
 * Entry point for metrics: the registry, the text format, process metrics and
 * the controller-runtime families. Each lives in its own module; this one only
 * gathers them so callers import from one place.
 */
export {
  Counter,
  DEFAULT_BUCKETS,
  Gauge,
  Histogram,
  Registry,
  exponentialBuckets,
  type Collector,
  type GaugeOptions,
  type HistogramOptions,
  type LabelValues,
  type MetricOptions,
} from './metrics-registry.js';
export {
  PROMETHEUS_CONTENT_TYPE,
  escapeHelp,
  escapeLabelValue,
  formatValue,
  renderText,
  type MetricFamily,
  type MetricType,
  type Sample,
} from './exposition.js';
export { ProcessCollector, defaultProcessMetrics } from './process-metrics.js';
export { RuntimeMetrics } from './runtime-metrics.js';
