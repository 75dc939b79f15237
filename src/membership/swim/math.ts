/**
 * Pure arithmetic of SWIM and Lifeguard, as hashicorp/memberlist computes it (`util.go`
 * `suspicionTimeout`/`retransmitLimit`, `suspicion.go` `remainingSuspicionTime`). Every function is
 * total over its documented domain and allocation-free; property tests pin them to the formulas.
 */

/**
 * The minimum suspicion timeout: `suspicionMult * max(1, log10(max(1, n))) * probeIntervalMs`,
 * truncated to whole milliseconds the way memberlist keeps three decimals of the node scale.
 *
 * @param suspicionMult - `SwimConfig.suspicionMult`
 * @param n - members known (memberlist's `estNumNodes`: every table entry, the local node included)
 * @param probeIntervalMs - the configured (unscaled) probe interval
 */
export function suspicionTimeoutMinMs(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor((suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000);
}

/**
 * Independent confirmations a suspicion waits for before its timeout reaches the minimum:
 * `suspicionConfirmations`, capped at `n - 2` (the members other than the suspect and the first
 * accuser). Memberlist (`suspectNode`) uses `suspicionMult - 2` and drops to 0 (the minimum from
 * the start, on one accuser's word) when the cluster is too small; capping instead keeps a small
 * cluster's suspicion waiting for every member able to confirm it.
 *
 * @param suspicionConfirmations - `SwimConfig.suspicionConfirmations`
 * @param n - members known (every table entry, the local node included)
 */
export function expectedConfirmations(suspicionConfirmations: number, n: number): number {
  return Math.max(0, Math.min(suspicionConfirmations, n - 2));
}

/**
 * Lifeguard's dynamic suspicion timeout after `c` independent confirmations:
 * `max(min, floor(max - (max - min) * log(c + 1) / log(k + 1)))`; with `k < 1` it is `min`.
 * Monotone non-increasing in `c`, within `[min, max]`, `max` at `c = 0` and `min` at `c >= k`.
 *
 * @param c - independent confirmations received (the accuser that started it excluded)
 * @param k - confirmations expected, from {@link expectedConfirmations}
 * @param minMs - from {@link suspicionTimeoutMinMs}
 * @param maxMs - `suspicionMaxTimeoutMult * minMs`
 */
export function suspicionTimeoutMs(c: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(c + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - frac * (maxMs - minMs));
  return raw < minMs ? minMs : Math.min(raw, maxMs);
}

/**
 * How many times a broadcast is piggybacked before it leaves the queue:
 * `retransmitMult * ceil(log10(n + 1))`.
 *
 * @param retransmitMult - `SwimConfig.retransmitMult`
 * @param n - members known (every table entry)
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(Math.max(0, n) + 1));
}

/**
 * A duration scaled by the local health multiplier: `durationMs * (awareness + 1)` (memberlist
 * `awareness.ScaleTimeout`).
 */
export function scaleByAwareness(durationMs: number, awareness: number): number {
  return durationMs * (awareness + 1);
}

/** Clamps `awareness + delta` to `0..max-1` (memberlist `awareness.ApplyDelta`). */
export function applyAwarenessDelta(
  awareness: number,
  delta: number,
  awarenessMaxMultiplier: number,
): number {
  const next = awareness + delta;
  if (next < 0) return 0;
  return Math.min(next, awarenessMaxMultiplier - 1);
}

/** The share of the probe timeout after which a PingReq relay answers Nack (Lifeguard: 80%). */
export const NACK_RATIO = 0.8;

/** When a relay sends its Nack, in ms after it pinged the target: `floor(probeTimeoutMs * 0.8)`. */
export function nackDelayMs(probeTimeoutMs: number): number {
  return Math.max(1, Math.floor(probeTimeoutMs * NACK_RATIO));
}
