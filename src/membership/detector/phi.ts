/**
 * The phi functions: suspicion as `-log10(P(the next heartbeat arrives later than elapsedMs))`.
 *
 * Pure, allocation-free, monotonically non-decreasing in `elapsedMs`, and finite for every finite
 * input (they are computed in the log domain, so a long silence gives a large phi, never
 * `Infinity` or `NaN`).
 */

/**
 * Phi under an exponential distribution of inter-arrival times (Cassandra, CASSANDRA-2597).
 *
 * `P(later than t) = exp(-t / mean)`, so `phi = (t / mean) * log10(e)`. The distribution is shifted
 * right by `pauseMs`: phi is 0 until the node is `pauseMs` late.
 *
 * @param elapsedMs - time since the last heartbeat
 * @param meanMs - mean inter-arrival time (> 0)
 * @param pauseMs - acceptable pause (>= 0)
 * @example
 * ```ts
 * phiExponential(18_420, 1000, 0); // ~8: convicted at threshold 8 after ~18.4 mean intervals
 * ```
 */
export function phiExponential(elapsedMs: number, meanMs: number, pauseMs: number): number {
  const t = elapsedMs - pauseMs;
  return t <= 0 ? 0 : (t / meanMs) * Math.LOG10E;
}

/** Coefficients of the logistic approximation of the normal CDF (Bowling et al. 2009; Akka). */
const K1 = 1.5976;
const K3 = 0.070566;

/**
 * Phi under a normal distribution of inter-arrival times (Akka, the original paper).
 *
 * The normal CDF is approximated by `F(y) = 1 / (1 + exp(-y * (1.5976 + 0.070566 * y^2)))` with
 * `y = (t - (mean + pause)) / std` (maximum error 1.4e-4). Then
 * `1 - F(y) = 1 / (1 + exp(a))` with `a = y * (1.5976 + 0.070566 * y^2)`, and
 * `phi = log10(1 + exp(a))`, evaluated without overflow on either side.
 *
 * @param elapsedMs - time since the last heartbeat
 * @param meanMs - mean inter-arrival time
 * @param stdMs - standard deviation (> 0; the caller applies the minimum)
 * @param pauseMs - acceptable pause added to the mean (>= 0)
 */
export function phiNormal(elapsedMs: number, meanMs: number, stdMs: number, pauseMs: number): number {
  const y = (elapsedMs - (meanMs + pauseMs)) / stdMs;
  const a = y * (K1 + K3 * y * y);
  // log(1 + e^a): for a > 0 write it as a + log(1 + e^-a) so e^a cannot overflow.
  const ln = a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a));
  return ln * Math.LOG10E;
}
