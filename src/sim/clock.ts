import type { Clock, TimerHandle } from '../core/index.js';
import { CairnError } from '../core/index.js';
import type { SimEvent } from './events.js';

/**
 * Virtual clocks: the simulator's implementation of core's {@link Clock}.
 *
 * Every node gets its own clock. Without skew it reads the simulator's virtual time. With skew it
 * reads `offsetMs` ahead (or behind) and runs `drift` faster (or slower): after `t` true
 * milliseconds it has advanced `t * (1 + drift)`. Timers are set in the node's own milliseconds
 * and fire when the node's clock has advanced by the delay, so a fast clock fires its timers early
 * in true time, exactly as a drifting quartz would.
 */

/** Clock skew of one node. */
export interface ClockSkew {
  /** Constant offset added to the reading, in ms; default 0. */
  readonly offsetMs?: number;
  /** Rate error: 0.001 runs 0.1% fast, -0.001 0.1% slow; must be > -1; default 0. */
  readonly drift?: number;
}

/** What a virtual clock needs from the simulator. */
export interface TimerHost {
  /** True virtual time in ms. */
  readonly now: number;
  /** Queues a timer event for `node` (incarnation `inc`) at true time `at`. */
  scheduleTimer(at: number, node: number, inc: number, fn: () => void): SimEvent;
  /** Marks a queued event cancelled. */
  cancelEvent(ev: SimEvent): void;
}

/**
 * The skew state of one node, shared by the clocks of its incarnations so a restart does not make
 * the node's time jump.
 */
export class SkewState {
  private anchorTrue: number;
  private anchorLocal: number;
  private offsetMs = 0;
  private rate = 1;
  private last = Number.NEGATIVE_INFINITY;

  /** @param startMs - true virtual time at creation */
  constructor(startMs: number, skew: ClockSkew = {}) {
    this.anchorTrue = startMs;
    this.anchorLocal = startMs;
    this.set(startMs, skew);
  }

  /** Speed factor: local ms per true ms. */
  get speed(): number {
    return this.rate;
  }

  /**
   * Changes the skew from now on. The reading continues from its current value plus the change of
   * offset; a reading never goes backwards (it holds until true time catches up).
   */
  set(trueNow: number, skew: ClockSkew): void {
    const drift = skew.drift ?? 0;
    const offsetMs = skew.offsetMs ?? 0;
    if (!Number.isFinite(drift) || drift <= -1) {
      throw new CairnError('INVALID_ARGUMENT', `clock drift must be a finite number > -1, got ${drift}`);
    }
    if (!Number.isFinite(offsetMs))
      throw new CairnError('INVALID_ARGUMENT', `clock offsetMs must be finite, got ${offsetMs}`);
    const current = this.anchorLocal + (trueNow - this.anchorTrue) * this.rate;
    this.anchorTrue = trueNow;
    this.anchorLocal = current - this.offsetMs + offsetMs;
    this.offsetMs = offsetMs;
    this.rate = 1 + drift;
  }

  /**
   * A new incarnation reads the clock afresh: the floor that kept the old one's reading from going
   * backwards (after an offset was lowered) no longer applies.
   */
  reboot(): void {
    this.last = Number.NEGATIVE_INFINITY;
  }

  /** The local reading at true time `trueNow`. */
  read(trueNow: number): number {
    const value = this.anchorLocal + (trueNow - this.anchorTrue) * this.rate;
    if (value < this.last) return this.last;
    this.last = value;
    return value;
  }
}

/**
 * A node's virtual clock (one per incarnation: timers set by a crashed incarnation never fire).
 *
 * Contract: as core's `Clock`. `now()` never decreases; a timer fires once, when the clock has
 * advanced by at least `delayMs` (exactly, without skew); cancelling a fired or cancelled timer
 * is a no-op. A throwing callback is reported by the simulator (the run fails).
 */
export class VirtualClock implements Clock {
  /**
   * @param host - the simulator
   * @param node - the node index, or -1 for the simulator's own clock
   * @param inc - the node's incarnation
   * @param skew - the node's skew state; undefined for a clock that reads true time
   */
  constructor(
    private readonly host: TimerHost,
    readonly node: number,
    readonly inc: number,
    private readonly skew: SkewState | undefined = undefined,
  ) {}

  now(): number {
    const skew = this.skew;
    return skew === undefined ? this.host.now : skew.read(this.host.now);
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    if (!Number.isFinite(delayMs))
      throw new CairnError('INVALID_ARGUMENT', `timer delay ${delayMs} is not finite`);
    const delay = Math.max(delayMs, 0);
    const skew = this.skew;
    let at: number;
    if (skew === undefined || skew.speed === 1) {
      at = this.host.now + delay;
    } else {
      // Round the true firing time up to the microsecond so the local reading at firing is never
      // below the requested delay because of floating-point rounding.
      at = Math.ceil((this.host.now + delay / skew.speed) * 1000 + 1) / 1000;
    }
    return this.host.scheduleTimer(at, this.node, this.inc, fn) as unknown as TimerHandle;
  }

  cancel(handle: TimerHandle): void {
    this.host.cancelEvent(handle as unknown as SimEvent);
  }
}
