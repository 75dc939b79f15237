import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One value of a metric as prom-client's registry reads it from `get()`. */
interface ExposedValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  /** The line's name when it is not the metric's (a histogram's `_bucket`, `_sum`, `_count`). */
  readonly metricName?: string;
}

/** What prom-client's registry reads from a registered metric's `get()`. */
interface Exposed<V extends ExposedValue = ExposedValue> {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  readonly values: V[];
}

/** A histogram's value for the text exposition: the series' labels apart from the bucket's. */
interface SharedValue extends ExposedValue {
  readonly metricName: string;
  readonly sharedLabels: Record<string, string>;
}

/**
 * Metrics through `prom-client`, one registry per node.
 *
 * Cairn never uses prom-client's global registry: several nodes can live in one process (tests,
 * the simulator), and each must report only its own numbers. Metric names follow Prometheus
 * conventions: `cairn_<brick>_<what>_<unit>` with `_total` for counters.
 */
export class Metrics {
  /** The prom-client registry; `/metrics` serves `registry.metrics()`. */
  readonly registry: Registry;
  private readonly counters = new Map<string, Counter<string>>();
  private readonly gauges = new Map<string, Gauge<string>>();
  private readonly histograms = new Map<string, Histogram<string>>();
  private readonly hotCounters = new Map<string, HotCounter>();
  private readonly hotHistograms = new Map<string, HotHistogram>();

  /** @param defaultLabels - labels added to every series (e.g. `{ node: 'n1' }`) */
  constructor(defaultLabels: Record<string, string> = {}) {
    this.registry = new Registry();
    this.registry.setDefaultLabels(defaultLabels);
  }

  /** A counter, created on first use; the same name returns the same counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter<string> {
    let c = this.counters.get(name);
    if (c === undefined) {
      c = new Counter({ name, help, labelNames, registers: [this.registry] });
      this.counters.set(name, c);
    }
    return c;
  }

  /** A gauge, created on first use. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge<string> {
    let g = this.gauges.get(name);
    if (g === undefined) {
      g = new Gauge({ name, help, labelNames, registers: [this.registry] });
      this.gauges.set(name, g);
    }
    return g;
  }

  /** A histogram, created on first use; `buckets` in the metric's unit. */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram<string> {
    let h = this.histograms.get(name);
    if (h === undefined) {
      h = new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
      this.histograms.set(name, h);
    }
    return h;
  }

  /**
   * A counter for a hot path: each series is a plain number (see {@link HotCounter}), read into
   * the exposition only when `/metrics` is. Same exposition as {@link counter}'s; a name is either
   * kind, not both.
   */
  hotCounter(name: string, help: string, labelNames: readonly string[] = []): HotCounter {
    let c = this.hotCounters.get(name);
    if (c === undefined) {
      c = new HotCounter(name, help, labelNames);
      this.registry.registerMetric(c as never);
      this.hotCounters.set(name, c);
    }
    return c;
  }

  /** A histogram for a hot path (see {@link HotHistogram}); `buckets` ascending, in the metric's unit. */
  hotHistogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): HotHistogram {
    let h = this.hotHistograms.get(name);
    if (h === undefined) {
      h = new HotHistogram(name, help, buckets, labelNames);
      this.registry.registerMetric(h as never);
      this.hotHistograms.set(name, h);
    }
    return h;
  }

  /** The exposition text for `/metrics`. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type header for {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** One labelled series of a {@link HotCounter}. */
export class HotCounterSeries {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(by = 1): void {
    this.value += by;
  }
}

/** One labelled series of a {@link HotHistogram}: per-bucket counts (not cumulative), sum and count. */
export class HotHistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

/** The series of a family, made once per distinct label values. */
function seriesOf<S>(
  family: { readonly name: string; readonly labelNames: readonly string[] },
  all: Map<string, S>,
  values: readonly string[],
  make: (labels: Record<string, string>) => S,
): S {
  if (values.length !== family.labelNames.length) {
    throw new TypeError(
      `${family.name} takes ${family.labelNames.length} label values, not ${values.length}`,
    );
  }
  const key = values.join('\u0000');
  let s = all.get(key);
  if (s === undefined) {
    const labels: Record<string, string> = {};
    family.labelNames.forEach((n, i) => {
      labels[n] = values[i]!;
    });
    s = make(labels);
    all.set(key, s);
  }
  return s;
}

/**
 * A counter whose series are plain numbers: prom-client's own children convert and hash their
 * labels on every `inc`, a cost per request on a store's request path. The caller keeps the
 * series `series()` returns (one per distinct label values) and counts into it; the registry reads
 * every series when the exposition is made. Registered through prom-client's `registerMetric`
 * contract (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`).
 */
export class HotCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly all = new Map<string, HotCounterSeries>();

  constructor(
    public name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The series of these label values, in `labelNames`' order; call once and keep it. */
  series(...values: string[]): HotCounterSeries {
    return seriesOf(this, this.all, values, (labels) => new HotCounterSeries(labels));
  }

  async get(): Promise<Exposed> {
    const values: ExposedValue[] = [];
    for (const s of this.all.values()) values.push({ labels: { ...s.labels }, value: s.value });
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }

  reset(): void {
    for (const s of this.all.values()) s.value = 0;
  }
}

/** A histogram whose series are plain counts (see {@link HotCounter} for why and how). */
export class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private readonly all = new Map<string, HotHistogramSeries>();

  constructor(
    public name: string,
    readonly help: string,
    buckets: readonly number[],
    readonly labelNames: readonly string[],
  ) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new TypeError(`${name}: buckets must ascend`);
    }
    if (labelNames.includes('le')) throw new TypeError(`${name}: le is a reserved label`);
    this.bounds = [...buckets];
  }

  /** The series of these label values, in `labelNames`' order; call once and keep it. */
  series(...values: string[]): HotHistogramSeries {
    return seriesOf(this, this.all, values, (labels) => new HotHistogramSeries(labels, this.bounds));
  }

  async get(): Promise<Exposed> {
    const text = await this.getForPromString();
    const values = text.values.map(
      (v): ExposedValue => ({
        labels: { ...v.labels, ...v.sharedLabels },
        value: v.value,
        metricName: v.metricName,
      }),
    );
    return { ...text, values };
  }

  /**
   * What the registry's text exposition reads: per value, `labels` (the bucket's `le`) and the
   * series' labels as `sharedLabels`, so lines come out as prom-client's own histograms write them.
   */
  async getForPromString(): Promise<Exposed<SharedValue>> {
    const values: SharedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all.values()) {
      const sharedLabels = { ...s.labels };
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le }, sharedLabels, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels, value: s.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    for (const s of this.all.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
