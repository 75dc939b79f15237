import type { PhiAccrualConfig } from './config.js';

/**
 * A deliberately simple reference detector for one node, used as the oracle in property tests:
 * it keeps every recorded interval in a plain array and recomputes mean and variance from the last
 * `windowSize` of them on every question, and computes phi straight from the definitions
 * (`-log10(exp(-t/mean))` and Akka's two-branch logistic formula).
 */
export class ReferenceDetector {
  private readonly all: number[] = [];
  private last: number | undefined;

  constructor(private readonly config: Readonly<PhiAccrualConfig>) {}

  heartbeat(nowMs: number): void {
    if (this.last === undefined) {
      const e = this.config.firstHeartbeatEstimateMs;
      this.all.push(e - e / 4, e + e / 4);
      this.last = nowMs;
      return;
    }
    const interval = nowMs - this.last;
    if (interval < 0) return;
    if (interval <= this.config.maxIntervalMs) this.all.push(interval);
    this.last = nowMs;
  }

  window(): number[] {
    return this.all.slice(Math.max(0, this.all.length - this.config.windowSize));
  }

  meanAndStd(): { mean: number; std: number } {
    const w = this.window();
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const variance = w.reduce((a, b) => a + (b - mean) * (b - mean), 0) / w.length;
    return { mean, std: Math.sqrt(variance) };
  }

  phi(nowMs: number): number {
    if (this.last === undefined) return 0;
    const elapsed = Math.max(0, nowMs - this.last);
    const { mean, std } = this.meanAndStd();
    const pause = this.config.acceptableHeartbeatPauseMs;
    if (this.config.distribution === 'exponential') {
      const m = Math.max(mean, this.config.minStdDeviationMs);
      const t = Math.max(0, elapsed - pause);
      return fromProbability(Math.exp(-t / m));
    }
    const s = Math.max(std, this.config.minStdDeviationMs);
    const shifted = mean + pause;
    const y = (elapsed - shifted) / s;
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    return fromProbability(elapsed > shifted ? e / (1 + e) : 1 - 1 / (1 + e));
  }
}

/**
 * `-log10(p)`, or `Infinity` once `p` is subnormal: below `2^-1022` a double keeps fewer than 53
 * significant bits, so the naive formula is no longer an oracle to 1e-9 (the caller then only
 * requires a finite phi beyond any threshold).
 */
function fromProbability(p: number): number {
  const MIN_NORMAL = 2.2250738585072014e-308;
  return p < MIN_NORMAL ? Number.POSITIVE_INFINITY : -Math.log10(p);
}

/** True when `a` and `b` agree within `rel` relative error (with a 1e-12 absolute floor near 0). */
export function close(a: number, b: number, rel = 1e-9): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-12;
}
