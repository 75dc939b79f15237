import type { MembershipPreset } from '../../node/config-fields.js';
import { membershipProtocol } from '../../node/membership-protocol.js';
import type { ScheduleTiming } from '../nemesis/schedule.js';

/**
 * Fault durations and checker windows derived from the agents' membership timings, so that a run
 * with a slower preset gets longer kills instead of kills nobody could detect in time.
 */

/** The windows a membership run is checked with, and the fault durations that fit them. */
export interface LabTiming {
  /** Worst case from a fault's end to a death it caused (probe, timeout, longest suspicion, margin), ms. */
  shadowMs: number;
  /** A kill this long must be detected by every live node, ms (confirmed suspicion, probes, margin). */
  detectBoundMs: number;
  /** Longest unconfirmed suspicion timeout plus the margin, ms. */
  suspicionWindowMs: number;
  /** Longest wait for all views to agree after the final heal, ms. */
  convergeTimeoutMs: number;
  /** Fault durations. */
  schedule: ScheduleTiming;
}

/** Margin for gossip and scheduling delays on a busy machine, ms. */
const MARGIN_MS = 1_000;

/**
 * The timing of a run of `nodes` agents on `preset`.
 *
 * The suspicion timeout is Lifeguard's: `suspicionMult * max(1, log10(n)) * probeIntervalMs` once
 * `suspicionConfirmations` other nodes confirm it, up to `suspicionMaxTimeoutMult` times that
 * without confirmations. A killed node among n >= k + 2 is suspected by every survivor, so the
 * confirmed (minimum) timeout bounds detection; a smaller cluster gets the maximum.
 *
 * @example
 * ```ts
 * labTiming('local', 3).detectBoundMs; // 7200
 * ```
 */
export function labTiming(preset: MembershipPreset, nodes: number): LabTiming {
  const swim = membershipProtocol({ preset }).swim;
  const minSuspicion = swim.suspicionMult * Math.max(1, Math.log10(nodes)) * swim.probeIntervalMs;
  const maxSuspicion = minSuspicion * swim.suspicionMaxTimeoutMult;
  const confirmed = nodes - 2 >= swim.suspicionConfirmations;
  const probe = swim.probeIntervalMs;
  const shadowMs = Math.ceil(2 * probe + swim.probeTimeoutMs + maxSuspicion + MARGIN_MS);
  const detectBoundMs = Math.ceil(
    (confirmed ? minSuspicion : maxSuspicion) + 3 * probe + swim.probeTimeoutMs + MARGIN_MS,
  );
  const long = Math.ceil(detectBoundMs * 1.5);
  return {
    shadowMs,
    detectBoundMs,
    suspicionWindowMs: Math.ceil(maxSuspicion + MARGIN_MS),
    convergeTimeoutMs: Math.max(30_000, 2 * shadowMs),
    schedule: {
      quietMs: [MARGIN_MS, Math.max(2 * MARGIN_MS, 3 * probe)],
      netFaultMs: [2 * probe, long],
      // Up past the shadow, so kills under a partition or loss are long enough to be checked too.
      killMs: [detectBoundMs, Math.max(long, Math.ceil(shadowMs * 1.25))],
      pauseMs: [probe, long],
      skewMs: [detectBoundMs, 2 * detectBoundMs],
    },
  };
}
