/**
 * Cairn's membership figures against hashicorp/memberlist's from the same run: ratios, goals and
 * the constants in which the two configurations differ. Used by `bench/membership.ts`; skipped by
 * the bench runner (the name starts with `_`).
 *
 * A ratio is Cairn's figure divided by memberlist's (below 1: Cairn is faster). Both tools ran on
 * the same machine one after the other with the same nodes, rounds and deadlines, so the load of
 * the machine weighs on both; the ratio is the figure to read, absolute times are noisy.
 */
import type { MembershipProtocolConfig } from '../src/membership/index.js';

/** The most each figure of Cairn may be, as a multiple of memberlist's in the same run. */
export const MEMBERSHIP_GOALS = Object.freeze({
  /** Detection at most 0.7x: Lifeguard confirmations and the eager dead push are ours to use. */
  detect: 0.7,
  /** Update at most 0.5x: writes are pushed eagerly, not left to the next gossip tick. */
  update: 0.5,
  /** Join at most 1.0x: signing and verifying every record must not make joining slower. */
  join: 1.0,
});

/** The figures compared, in ms (null when a phase timed out). */
export interface ComparedFigures {
  join_ms: number | null;
  update_ms: number | null;
  detect_ms: number | null;
}

/**
 * One goal: the ratio measured, the most it may be, and whether it was met. When memberlist's
 * phase reached its deadline and Cairn's did not, memberlist's figure is known only to be above
 * the deadline: `ratio` is null and `ratio_at_most` bounds it (Cairn's figure over the deadline).
 */
export interface GoalResult {
  ratio: number | null;
  ratio_at_most?: number;
  max_ratio: number;
  goal_ms: number | null;
  met: boolean | null;
}

const FIGURES = ['join', 'update', 'detect'] as const;

function figure(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/**
 * The ratio and goal of every figure. A figure Cairn did not measure (timed out), or memberlist
 * did not (not run, or timed out: then see {@link GoalResult}), has a null ratio and `met: null`
 * unless the bound decides it.
 *
 * @param timeoutMs - the deadline of every wait, the same for both tools
 */
export function compareFigures(
  cairn: ComparedFigures,
  memberlist: Record<string, unknown> | undefined,
  timeoutMs: number,
): Record<(typeof FIGURES)[number], GoalResult> {
  const out = {} as Record<(typeof FIGURES)[number], GoalResult>;
  const theirTimeouts = Array.isArray(memberlist?.timed_out) ? (memberlist.timed_out as unknown[]) : [];
  for (const name of FIGURES) {
    const ours = cairn[`${name}_ms`];
    const theirs = memberlist === undefined ? null : figure(memberlist[`${name}_ms`]);
    const maxRatio = MEMBERSHIP_GOALS[name];
    if (theirs === null && ours !== null && theirTimeouts.includes(name)) {
      out[name] = {
        ratio: null,
        ratio_at_most: Math.round((ours / timeoutMs) * 100) / 100,
        max_ratio: maxRatio,
        goal_ms: null,
        met: ours <= timeoutMs * maxRatio ? true : null,
      };
      continue;
    }
    const goalMs = theirs === null ? null : Math.round(theirs * maxRatio);
    const ratio =
      ours === null || theirs === null || theirs <= 0 ? null : Math.round((ours / theirs) * 100) / 100;
    out[name] = {
      ratio,
      max_ratio: maxRatio,
      goal_ms: goalMs,
      met: ours === null || goalMs === null ? null : ours <= goalMs,
    };
  }
  return out;
}

/** Cairn's value of each constant the memberlist harness reports (same names and units). */
function cairnConstants(protocol: MembershipProtocolConfig): Record<string, unknown> {
  const swim = protocol.swim;
  return {
    probeIntervalMs: swim.probeIntervalMs,
    probeTimeoutMs: swim.probeTimeoutMs,
    indirectChecks: swim.indirectChecks,
    suspicionMult: swim.suspicionMult,
    suspicionMaxTimeoutMult: swim.suspicionMaxTimeoutMult,
    retransmitMult: swim.retransmitMult,
    gossipIntervalMs: swim.gossipIntervalMs,
    gossipNodes: swim.gossipNodes,
    gossipToTheDeadMs: swim.gossipToTheDeadMs,
    awarenessMaxMultiplier: swim.awarenessMaxMultiplier,
    tcpFallback: swim.tcpFallback,
    mtu: swim.mtu,
    pushPullIntervalMs: protocol.pushPullIntervalMs,
    // memberlist's TCPTimeout bounds a push-pull's connection; Cairn's syncTimeoutMs the sync.
    tcpTimeoutMs: protocol.syncTimeoutMs,
    compression: false,
  };
}

/**
 * The constants whose values differ between Cairn's preset and memberlist's `DefaultLANConfig`
 * as the harness reported it (a constant either side lacks is listed with null).
 */
export function configDifferences(
  protocol: MembershipProtocolConfig,
  memberlistConfig: unknown,
): Array<{ name: string; cairn: unknown; memberlist: unknown }> {
  const theirs =
    typeof memberlistConfig === 'object' && memberlistConfig !== null
      ? (memberlistConfig as Record<string, unknown>)
      : {};
  const ours = cairnConstants(protocol);
  const names = [...new Set([...Object.keys(ours), ...Object.keys(theirs)])].sort();
  return names
    .filter((name) => ours[name] !== theirs[name])
    .map((name) => ({ name, cairn: ours[name] ?? null, memberlist: theirs[name] ?? null }));
}
