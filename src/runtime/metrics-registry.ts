/**
 * A minimal Prometheus registry: counters, gauges and histograms with typed
 * label sets. Written in-house because the operator needs only these three and
 * the text format, and a dependency would be larger than this file.
 */
import { formatValue, renderText, type MetricFamily, type Sample } from './exposition.js';

/** Values for every label of a metric, keyed by label name. */
export type LabelValues<L extends string> = { readonly [K in L]: string };

/** Anything that contributes metric families to a scrape. */
export interface Collector {
  /** Family names this collector produces (checked for duplicates at registration). */
  readonly names: readonly string[];
  /** Produces the families' current samples; called on every scrape. */
  collect(): MetricFamily[];
}

/** Common options of every metric. */
export interface MetricOptions<L extends string> {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  name: string;
  /** One-line description. */
  help: string;
  /** Label names, in exposition order. */
  labelNames?: readonly L[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The Prometheus client libraries' default histogram buckets (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Bucket bounds growing by `factor` from `start`, `count` of them (like client_golang's). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (start <= 0 || factor <= 1 || count < 1) throw new RangeError('exponentialBuckets needs start > 0, factor > 1, count >= 1');
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

interface Series<L extends string, S> {
  labels: LabelValues<L>;
  state: S;
}

/** Shared label handling: validation, series lookup, ordered label pairs. */
abstract class Metric<L extends string, S> implements Collector {
  /** Metric name. */
  readonly name: string;
  /** Help text. */
  readonly help: string;
  /** Label names in exposition order. */
  readonly labelNames: readonly L[];
  protected readonly series = new Map<string, Series<L, S>>();

  protected constructor(options: MetricOptions<L>, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`invalid metric name ${JSON.stringify(options.name)}`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    for (const label of this.labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || reserved.includes(label)) {
        throw new Error(`invalid label name ${JSON.stringify(label)} for metric ${options.name}`);
      }
    }
  }

  /** {@inheritDoc Collector.names} */
  get names(): readonly string[] {
    return [this.name];
  }

  /** Forgets every series (an unlabelled metric reads as zero again). */
  reset(): void {
    this.series.clear();
  }

  /** {@inheritDoc Collector.collect} */
  abstract collect(): MetricFamily[];

  protected abstract initial(): S;

  /** Every series; an unlabelled metric always has one, so it is exposed even at zero. */
  protected allSeries(): Array<Series<L, S>> {
    if (this.labelNames.length === 0) this.seriesFor({} as LabelValues<L>);
    return [...this.series.values()];
  }

  protected seriesFor(labels: LabelValues<L>): Series<L, S> {
    const values = this.labelNames.map((n) => {
      const v = (labels as Record<string, unknown>)[n];
      if (typeof v !== 'string') throw new Error(`metric ${this.name}: missing label ${n}`);
      return v;
    });
    // Every label name is present (checked above), so more keys than names means unknown ones.
    const extra = Object.keys(labels).length === this.labelNames.length ? [] : Object.keys(labels).filter((k) => !(this.labelNames as readonly string[]).includes(k));
    if (extra.length > 0) throw new Error(`metric ${this.name}: unknown labels ${extra.join(', ')}`);
    // NUL cannot occur in sane label values, so it makes an unambiguous key.
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, state: this.initial() };
      this.series.set(key, s);
    }
    return s;
  }

  protected findSeries(labels: LabelValues<L>): Series<L, S> | undefined {
    return this.series.get(this.labelNames.map((n) => (labels as Record<string, string>)[n] ?? '').join('\u0000'));
  }

  protected pairs(labels: LabelValues<L>): Array<readonly [string, string]> {
    return this.labelNames.map((n) => [n, (labels as Record<string, string>)[n] ?? ''] as const);
  }
}

/** Splits `(labels, value)` / `(value)` call forms. */
function args<L extends string>(a: LabelValues<L> | number | undefined, b: number | undefined, dflt: number): [LabelValues<L>, number] {
  if (typeof a === 'number') return [{} as LabelValues<L>, a];
  return [a ?? ({} as LabelValues<L>), b ?? dflt];
}

/** A monotonically increasing count. Name it `..._total`. */
export class Counter<L extends string = never> extends Metric<L, { value: number }> {
  /** @param options name, help, label names. */
  constructor(options: MetricOptions<L>) {
    super(options);
  }

  /** Adds `value` (default 1, must be >= 0) to the series for `labels`. */
  inc(labels?: LabelValues<L> | number, value?: number): void {
    const [l, v] = args(labels, value, 1);
    if (!(v >= 0)) throw new RangeError(`counter ${this.name} can only increase`);
    this.seriesFor(l).state.value += v;
  }

  /** Current value for `labels` (0 if never touched). */
  get(labels: LabelValues<L> = {} as LabelValues<L>): number {
    return this.findSeries(labels)?.state.value ?? 0;
  }

  protected initial(): { value: number } {
    return { value: 0 };
  }

  /** {@inheritDoc Collector.collect} */
  collect(): MetricFamily[] {
    const samples: Sample[] = this.allSeries().map((s) => ({ name: this.name, labels: this.pairs(s.labels), value: s.state.value }));
    return [{ name: this.name, help: this.help, type: 'counter', samples }];
  }
}

/** Options of a {@link Gauge}. */
export interface GaugeOptions<L extends string> extends MetricOptions<L> {
  /** Called at every scrape before the value is read, to refresh it from its source. */
  collect?: (gauge: Gauge<L>) => void;
}

/** A value that goes up and down. */
export class Gauge<L extends string = never> extends Metric<L, { value: number }> {
  private readonly refresh: ((gauge: Gauge<L>) => void) | undefined;

  /** @param options name, help, label names, optional scrape-time refresh. */
  constructor(options: GaugeOptions<L>) {
    super(options);
    this.refresh = options.collect;
  }

  /** Sets the series for `labels` to `value`. */
  set(labels: LabelValues<L> | number, value?: number): void {
    const [l, v] = args(labels, value, 0);
    this.seriesFor(l).state.value = v;
  }

  /** Adds `value` (default 1). */
  inc(labels?: LabelValues<L> | number, value?: number): void {
    const [l, v] = args(labels, value, 1);
    this.seriesFor(l).state.value += v;
  }

  /** Subtracts `value` (default 1). */
  dec(labels?: LabelValues<L> | number, value?: number): void {
    const [l, v] = args(labels, value, 1);
    this.seriesFor(l).state.value -= v;
  }

  /** Current value for `labels` (0 if never set). */
  get(labels: LabelValues<L> = {} as LabelValues<L>): number {
    return this.findSeries(labels)?.state.value ?? 0;
  }

  protected initial(): { value: number } {
    return { value: 0 };
  }

  /** {@inheritDoc Collector.collect} */
  collect(): MetricFamily[] {
    this.refresh?.(this);
    const samples: Sample[] = this.allSeries().map((s) => ({ name: this.name, labels: this.pairs(s.labels), value: s.state.value }));
    return [{ name: this.name, help: this.help, type: 'gauge', samples }];
  }
}

/** Options of a {@link Histogram}. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds, ascending, without +Inf (default {@link DEFAULT_BUCKETS}). */
  buckets?: readonly number[];
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

/** Counts observations into cumulative buckets, plus their sum and count. */
export class Histogram<L extends string = never> extends Metric<L, HistogramState> {
  /** Bucket upper bounds (without +Inf). */
  readonly buckets: readonly number[];

  /** @param options name, help, label names (not `le`), buckets. */
  constructor(options: HistogramOptions<L>) {
    const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)].filter((b) => b !== Infinity);
    for (let i = 1; i < buckets.length; i++) {
      if (!((buckets[i] as number) > (buckets[i - 1] as number))) throw new Error(`histogram ${options.name}: buckets must increase`);
    }
    super(options, ['le']);
    this.buckets = buckets;
  }

  /** Records one observation of `value` for `labels`. */
  observe(labels: LabelValues<L> | number, value?: number): void {
    const [l, v] = args(labels, value, 0);
    const s = this.seriesFor(l).state;
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += v;
    s.count += 1;
  }

  /** Observation count for `labels` (0 if none). */
  count(labels: LabelValues<L> = {} as LabelValues<L>): number {
    return this.findSeries(labels)?.state.count ?? 0;
  }

  protected initial(): HistogramState {
    return { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }

  /** {@inheritDoc Collector.collect} */
  collect(): MetricFamily[] {
    const samples: Sample[] = [];
    for (const s of this.allSeries()) {
      const base = this.pairs(s.labels);
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += s.state.counts[i] ?? 0;
        samples.push({ name: `${this.name}_bucket`, labels: [...base, ['le', formatValue(bound)]], value: cumulative });
      });
      samples.push({ name: `${this.name}_bucket`, labels: [...base, ['le', '+Inf']], value: s.state.count });
      samples.push({ name: `${this.name}_sum`, labels: base, value: s.state.sum });
      samples.push({ name: `${this.name}_count`, labels: base, value: s.state.count });
    }
    return [{ name: this.name, help: this.help, type: 'histogram', samples }];
  }
}

/** Holds collectors and renders them for `/metrics`. */
export class Registry {
  private readonly collectors: Collector[] = [];
  private readonly names = new Set<string>();

  /** Adds a collector; throws if one of its family names is already registered. */
  register<C extends Collector>(collector: C): C {
    for (const n of collector.names) {
      if (this.names.has(n)) throw new Error(`metric ${n} is already registered`);
    }
    for (const n of collector.names) this.names.add(n);
    this.collectors.push(collector);
    return collector;
  }

  /** Creates and registers a {@link Counter}. */
  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.register(new Counter<L>(options));
  }

  /** Creates and registers a {@link Gauge}. */
  gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
    return this.register(new Gauge<L>(options));
  }

  /** Creates and registers a {@link Histogram}. */
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.register(new Histogram<L>(options));
  }

  /**
   * Current families in registration order. Labelled families with no series
   * yet are omitted (as client_golang does) so scrapes carry no empty headers.
   */
  collect(): MetricFamily[] {
    return this.collectors.flatMap((c) => c.collect()).filter((f) => f.samples.length > 0);
  }

  /** Name and type of every registered family, exported yet or not (for checks of dashboards and alerts). */
  describe(): Array<Pick<MetricFamily, 'name' | 'type'>> {
    return this.collectors.flatMap((c) => c.collect()).map((f) => ({ name: f.name, type: f.type }));
  }

  /** The text exposition (format 0.0.4) of every registered metric. */
  metrics(): string {
    return renderText(this.collect());
  }
}
