import { CairnError, checkLimit } from '../../core/index.js';
import { type DetectorLimits, detectorLimits, type PhiAccrualConfig, phiAccrualConfig } from './config.js';
import { phiExponential, phiNormal } from './phi.js';
import { IntervalWindow } from './window.js';

/** Per-node state: the sampling window and the time of the last heartbeat. */
interface NodeState {
  readonly window: IntervalWindow;
  lastMs: number;
}

/** A snapshot of one node's statistics, for diagnostics (`/debug`, `cairn members --json`). */
export interface PhiNodeStats {
  /** Intervals in the window (including the two bootstrap samples until they are evicted). */
  readonly samples: number;
  /** Mean interval in ms. */
  readonly meanMs: number;
  /** Measured standard deviation in ms (before the `minStdDeviationMs` floor). */
  readonly stdDeviationMs: number;
  /** Time of the last heartbeat, on the caller's clock. */
  readonly lastHeartbeatMs: number;
}

function checkTime(nowMs: number): void {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `phi accrual detector: time ${String(nowMs)} is not a finite number`,
    );
  }
}

/**
 * The phi-accrual failure detector (Hayashibara et al. 2004) over many nodes.
 *
 * A pure data structure: no timers and no clock; the caller passes the time of every heartbeat and
 * every question, in milliseconds on one monotonic clock. Heartbeats and phi cost O(1) and do not
 * allocate once a node's window has reached its size.
 *
 * Contract:
 * - A node is tracked from its first {@link heartbeat} until {@link remove}. Its window starts with
 *   two bootstrap samples around `firstHeartbeatEstimateMs`; each later heartbeat records the
 *   interval since the previous one, unless it is longer than `maxIntervalMs` (the node was down:
 *   the interval is not recorded, but the heartbeat still counts as the latest).
 * - {@link phi} grows monotonically with the time since the last heartbeat; an untracked node has
 *   phi 0 and is available (as in Akka: no data is not evidence of failure). Time that goes
 *   backwards is read as no time elapsed; a heartbeat older than the latest one is ignored.
 * - Tracking more than `limits.maxTrackedNodes` nodes throws `LIMIT_EXCEEDED`; a non-finite time
 *   throws `INVALID_ARGUMENT`. Nothing else throws.
 *
 * @example
 * ```ts
 * const fd = new PhiAccrualDetector({ threshold: 8 });
 * fd.heartbeat('n2', clock.now());
 * if (!fd.isAvailable('n2', clock.now())) markDown('n2');
 * ```
 */
export class PhiAccrualDetector {
  /** The validated configuration. */
  readonly config: Readonly<PhiAccrualConfig>;
  /** The limits in force. */
  readonly limits: DetectorLimits;
  private readonly states = new Map<string, NodeState>();
  private readonly normal: boolean;

  /**
   * @param config - overrides of {@link DEFAULT_PHI_ACCRUAL_CONFIG}; validated (`INVALID_CONFIG`
   *   naming the bad field)
   * @param limits - overrides of the detector's `DEFAULT_LIMITS`
   */
  constructor(config: Partial<PhiAccrualConfig> = {}, limits: Partial<DetectorLimits> = {}) {
    this.limits = detectorLimits(limits);
    this.config = phiAccrualConfig(config, this.limits);
    this.normal = this.config.distribution === 'normal';
  }

  /** Number of tracked nodes. */
  get size(): number {
    return this.states.size;
  }

  /**
   * Records a heartbeat from `node` at `nowMs`.
   *
   * @throws CairnError `LIMIT_EXCEEDED` when `node` is new and `maxTrackedNodes` are tracked;
   *   `INVALID_ARGUMENT` when `nowMs` is not finite
   */
  heartbeat(node: string, nowMs: number): void {
    checkTime(nowMs);
    const state = this.states.get(node);
    if (state === undefined) {
      checkLimit('maxTrackedNodes', this.states.size + 1, this.limits.maxTrackedNodes, 'tracked nodes');
      const window = new IntervalWindow(this.config.windowSize);
      const estimate = this.config.firstHeartbeatEstimateMs;
      window.push(estimate - estimate / 4);
      window.push(estimate + estimate / 4);
      this.states.set(node, { window, lastMs: nowMs });
      return;
    }
    const interval = nowMs - state.lastMs;
    if (interval < 0) return;
    if (interval <= this.config.maxIntervalMs) state.window.push(interval);
    state.lastMs = nowMs;
  }

  /**
   * The suspicion level of `node` at `nowMs`: `-log10` of the probability that a live node's next
   * heartbeat would come later than this. 0 for an untracked node.
   *
   * @throws CairnError `INVALID_ARGUMENT` when `nowMs` is not finite
   */
  phi(node: string, nowMs: number): number {
    checkTime(nowMs);
    const state = this.states.get(node);
    if (state === undefined) return 0;
    const elapsed = Math.max(0, nowMs - state.lastMs);
    const { minStdDeviationMs, acceptableHeartbeatPauseMs } = this.config;
    const w = state.window;
    if (this.normal) {
      return phiNormal(
        elapsed,
        w.mean,
        Math.max(w.stdDeviation, minStdDeviationMs),
        acceptableHeartbeatPauseMs,
      );
    }
    // An exponential distribution's deviation equals its mean, so the floor applies to the mean.
    return phiExponential(elapsed, Math.max(w.mean, minStdDeviationMs), acceptableHeartbeatPauseMs);
  }

  /** True when `phi(node, nowMs)` is below the threshold (always true for an untracked node). */
  isAvailable(node: string, nowMs: number): boolean {
    return this.phi(node, nowMs) < this.config.threshold;
  }

  /** True when `node` is tracked (has sent at least one heartbeat since it was last removed). */
  isMonitoring(node: string): boolean {
    return this.states.has(node);
  }

  /**
   * Forgets `node` and its window, so that a node coming back starts afresh from the bootstrap
   * estimate (chitchat does this when it declares a node dead).
   *
   * @returns true when the node was tracked
   */
  remove(node: string): boolean {
    return this.states.delete(node);
  }

  /** The tracked nodes, in the order they were first heard from. */
  nodes(): string[] {
    return [...this.states.keys()];
  }

  /** Statistics of one node, or `undefined` when it is not tracked. */
  stats(node: string): PhiNodeStats | undefined {
    const state = this.states.get(node);
    if (state === undefined) return undefined;
    return {
      samples: state.window.size,
      meanMs: state.window.mean,
      stdDeviationMs: state.window.stdDeviation,
      lastHeartbeatMs: state.lastMs,
    };
  }

  /** The recorded intervals of `node`, oldest first (for tests and diagnostics). */
  intervals(node: string): number[] {
    return this.states.get(node)?.window.values() ?? [];
  }

  /** Forgets every node. */
  clear(): void {
    this.states.clear();
  }
}
