import { assert } from '../../core/index.js';

/**
 * A bounded sliding window of inter-arrival intervals with O(1) mean and variance.
 *
 * Storage is a ring buffer in a `Float64Array` that starts small and doubles up to the window's
 * capacity, so a node heard from a few times costs a few samples, not the full window. Mean and
 * the sum of squared deviations (`m2`) are kept with Welford's update when the window grows and
 * with the exact sliding replacement formula once it is full:
 *
 * ```
 * mean' = mean + (x - y) / n
 * m2'   = m2 + (x - y) * (x - mean' + y - mean)      (x enters, y leaves)
 * ```
 *
 * Floating-point error of the running sums would drift over millions of updates, so each time the
 * ring has been overwritten once completely (every `capacity` replacements) both are recomputed
 * from the samples with a two-pass sum: amortised O(1), and the error never accumulates over more
 * than one window.
 */
export class IntervalWindow {
  /** Most samples kept. */
  readonly capacity: number;
  private buf: Float64Array;
  /** Index of the oldest sample once the window is full; 0 before. */
  private head = 0;
  private count = 0;
  private runningMean = 0;
  private m2 = 0;
  private replaced = 0;

  /**
   * @param capacity - most samples kept (an integer >= 1)
   * @param initialCapacity - samples allocated up front (default `min(capacity, 8)`)
   */
  constructor(capacity: number, initialCapacity = Math.min(capacity, 8)) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, `window capacity ${capacity} must be >= 1`);
    this.capacity = capacity;
    this.buf = new Float64Array(Math.max(1, Math.min(capacity, initialCapacity)));
  }

  /** Number of samples held, at most {@link capacity}. */
  get size(): number {
    return this.count;
  }

  /** Mean of the samples; 0 when empty. */
  get mean(): number {
    return this.runningMean;
  }

  /** Population variance of the samples (never negative); 0 when empty. */
  get variance(): number {
    return this.count === 0 ? 0 : Math.max(0, this.m2 / this.count);
  }

  /** Population standard deviation of the samples. */
  get stdDeviation(): number {
    return Math.sqrt(this.variance);
  }

  /** Adds a sample, evicting the oldest one when the window is full. */
  push(x: number): void {
    assert(Number.isFinite(x), `window sample ${x} is not finite`);
    if (this.count < this.capacity) {
      if (this.count === this.buf.length) this.grow();
      this.buf[this.count] = x;
      this.count++;
      const d = x - this.runningMean;
      this.runningMean += d / this.count;
      this.m2 += d * (x - this.runningMean);
      return;
    }
    const y = this.buf[this.head]!;
    this.buf[this.head] = x;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    const oldMean = this.runningMean;
    this.runningMean = oldMean + (x - y) / this.count;
    this.m2 += (x - y) * (x - this.runningMean + y - oldMean);
    this.replaced++;
    if (this.replaced === this.capacity) {
      this.replaced = 0;
      this.resync();
    }
  }

  /** The samples, oldest first (allocates; for tests and diagnostics). */
  values(): number[] {
    const out: number[] = [];
    const full = this.count === this.capacity;
    for (let i = 0; i < this.count; i++) {
      const at = full ? (this.head + i) % this.capacity : i;
      out.push(this.buf[at]!);
    }
    return out;
  }

  /** Drops every sample. */
  clear(): void {
    this.head = 0;
    this.count = 0;
    this.runningMean = 0;
    this.m2 = 0;
    this.replaced = 0;
  }

  private grow(): void {
    const next = new Float64Array(Math.min(this.capacity, this.buf.length * 2));
    next.set(this.buf);
    this.buf = next;
  }

  /** Recomputes mean and m2 exactly from the samples (two passes). */
  private resync(): void {
    let sum = 0;
    for (let i = 0; i < this.count; i++) sum += this.buf[i]!;
    const mean = sum / this.count;
    let m2 = 0;
    for (let i = 0; i < this.count; i++) {
      const d = this.buf[i]! - mean;
      m2 += d * d;
    }
    this.runningMean = mean;
    this.m2 = m2;
  }
}
