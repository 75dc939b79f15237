import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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

  /** The exposition text for `/metrics`. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type header for {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
