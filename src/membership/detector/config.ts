import { CairnError, checkLimit, withLimits } from '../../core/index.js';

/**
 * Configuration and limits of the phi-accrual failure detector.
 *
 * The defaults follow the two production detectors the field knows best: Cassandra's
 * (`phi_convict_threshold` 8, 1,000 samples, exponential distribution) and Akka's (the bootstrap
 * estimate, `min-std-deviation`, `acceptable-heartbeat-pause`, normal distribution), with chitchat's
 * `max_interval` of 10 s for intervals that mean "the node was down".
 */

/** Which distribution of heartbeat inter-arrival times phi is computed from. */
export type PhiDistribution = 'exponential' | 'normal';

/**
 * Configuration of a {@link PhiAccrualDetector}. Every field has a default in
 * {@link DEFAULT_PHI_ACCRUAL_CONFIG}.
 */
export interface PhiAccrualConfig {
  /**
   * Phi at or above which a node is judged unavailable. Phi is `-log10(P(a heartbeat arrives later
   * than now))`, so 8 means "one chance in 10^8 that a live node would be this late".
   * Lower detects crashes sooner but suspects slow nodes more often; higher is the reverse.
   * Unitless; default 8 (Cassandra's `phi_convict_threshold` and chitchat's `phi_threshold`).
   */
  threshold: number;
  /**
   * Number of inter-arrival intervals kept per node (a sliding window). Larger windows adapt more
   * slowly to a changed heartbeat rate but are less disturbed by a burst of odd intervals; memory is
   * 8 bytes per sample. Count; default 1000 (Cassandra's `SAMPLE_SIZE`, chitchat's
   * `sampling_window_size`, Akka's `max-sample-size`); at least 2.
   */
  windowSize: number;
  /**
   * Lower bound of the standard deviation used in phi, in ms. Very regular heartbeats give a tiny
   * measured deviation, which would make phi shoot up on the first slightly late heartbeat. For the
   * exponential distribution (whose standard deviation equals its mean) this bounds the mean
   * instead. Higher tolerates more jitter and detects later. Default 100 ms (Akka's
   * `min-std-deviation`).
   */
  minStdDeviationMs: number;
  /**
   * A pause that is always tolerated: the distribution is shifted right by this many ms, so phi
   * stays 0 (exponential) or low (normal) until the node is this much later than usual. Absorbs
   * garbage-collection pauses and lost heartbeats at the price of slower detection by the same
   * amount. Default 0 ms (Cassandra has none; Akka's cluster uses 3 s).
   */
  acceptableHeartbeatPauseMs: number;
  /**
   * Expected interval before any has been measured, in ms. The window of a newly seen node starts
   * with two samples, `estimate - estimate/4` and `estimate + estimate/4` (Akka's bootstrap), so a
   * node heard from once becomes unavailable on its own if it never speaks again. Too low convicts
   * new nodes before they settle; too high delays detection of a node that dies right after joining.
   * Default 1000 ms (one gossip interval).
   */
  firstHeartbeatEstimateMs: number;
  /**
   * Longest interval recorded in the window, in ms. A longer gap means the node was down or
   * partitioned, not that it is slow; recording it would teach the detector to wait that long next
   * time. Lower keeps detection fast after an outage; too low throws away genuine slow intervals.
   * Default 10000 ms (chitchat's `max_interval`; Cassandra uses twice the gossip interval).
   */
  maxIntervalMs: number;
  /**
   * The distribution of inter-arrival times. `'exponential'` (default, Cassandra since 2011) needs
   * only the mean: `phi = (t / mean) * log10(e)`; it is robust to the bursty, non-normal arrivals of
   * gossip-relayed heartbeats. `'normal'` (Akka, the original paper) uses mean and deviation through
   * a logistic approximation of the normal CDF; it reacts sooner on very regular links.
   */
  distribution: PhiDistribution;
}

/** The default configuration; see each field of {@link PhiAccrualConfig} for its reason. */
export const DEFAULT_PHI_ACCRUAL_CONFIG: Readonly<PhiAccrualConfig> = Object.freeze({
  threshold: 8,
  windowSize: 1000,
  minStdDeviationMs: 100,
  acceptableHeartbeatPauseMs: 0,
  firstHeartbeatEstimateMs: 1000,
  maxIntervalMs: 10_000,
  distribution: 'exponential',
});

/** The detector's limits; see {@link DEFAULT_LIMITS} for the meaning of each. */
export type DetectorLimits = {
  readonly maxTrackedNodes: number;
  readonly maxWindowSize: number;
};

/** Limits of the detector. Over a limit is a `LIMIT_EXCEEDED` error, never a silent drop. */
export const DEFAULT_LIMITS: DetectorLimits = Object.freeze({
  /**
   * Most nodes one detector tracks: about 100 bytes plus the samples per node, so a runaway caller
   * (tracking every address it ever heard of) fails loudly instead of growing without bound.
   */
  maxTrackedNodes: 65_536,
  /** Largest `windowSize`: ten times Cassandra's 1,000; 80 KB per node when full. */
  maxWindowSize: 10_000,
});

const FIELDS = Object.keys(DEFAULT_PHI_ACCRUAL_CONFIG) as readonly (keyof PhiAccrualConfig)[];

function bad(field: string, expected: string, value: unknown): never {
  throw new CairnError(
    'INVALID_CONFIG',
    `phi accrual config: ${field} must be ${expected}, got ${String(value)}`,
    {
      details: { field, value },
    },
  );
}

function positive(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    bad(field, 'a positive number', value);
}

/**
 * Merges `overrides` into the defaults and validates the result.
 *
 * @param overrides - fields to change; unknown field names are rejected (a typo must not be ignored)
 * @param limits - limits to check `windowSize` against (default {@link DEFAULT_LIMITS})
 * @returns a frozen, complete configuration
 * @throws CairnError `INVALID_CONFIG` naming the first bad field; `LIMIT_EXCEEDED` when
 *   `windowSize` is over `limits.maxWindowSize`
 * @example
 * ```ts
 * const config = phiAccrualConfig({ threshold: 10, distribution: 'normal' });
 * ```
 */
export function phiAccrualConfig(
  overrides: Partial<PhiAccrualConfig> = {},
  limits: DetectorLimits = DEFAULT_LIMITS,
): Readonly<PhiAccrualConfig> {
  for (const key of Object.keys(overrides)) {
    if (!(FIELDS as readonly string[]).includes(key)) bad(key, 'a known field (unknown field)', key);
  }
  const c: PhiAccrualConfig = { ...DEFAULT_PHI_ACCRUAL_CONFIG };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (c as unknown as Record<string, unknown>)[key] = value;
  }
  positive('threshold', c.threshold);
  if (!Number.isSafeInteger(c.windowSize) || c.windowSize < 2)
    bad('windowSize', 'an integer >= 2', c.windowSize);
  checkLimit('maxWindowSize', c.windowSize, limits.maxWindowSize, 'windowSize');
  positive('minStdDeviationMs', c.minStdDeviationMs);
  if (
    typeof c.acceptableHeartbeatPauseMs !== 'number' ||
    !Number.isFinite(c.acceptableHeartbeatPauseMs) ||
    c.acceptableHeartbeatPauseMs < 0
  ) {
    bad('acceptableHeartbeatPauseMs', 'a number >= 0', c.acceptableHeartbeatPauseMs);
  }
  positive('firstHeartbeatEstimateMs', c.firstHeartbeatEstimateMs);
  positive('maxIntervalMs', c.maxIntervalMs);
  if (c.distribution !== 'exponential' && c.distribution !== 'normal') {
    bad('distribution', "'exponential' or 'normal'", c.distribution);
  }
  return Object.freeze(c);
}

/** Merges limit overrides into the detector's {@link DEFAULT_LIMITS}; see core's `withLimits`. */
export function detectorLimits(overrides: Partial<DetectorLimits> = {}): DetectorLimits {
  return withLimits(DEFAULT_LIMITS, overrides);
}
