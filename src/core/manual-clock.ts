import type { Clock, TimerHandle } from './clock.js';
import { CairnError } from './errors.js';

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Timers one `advance` may fire: a timer that re-arms itself at zero delay is a bug, not a wait. */
const MAX_FIRINGS_PER_ADVANCE = 100_000;

/**
 * A clock that moves only when told, for unit tests and tools: `advance(ms)` fires every due timer
 * in time order (ties in the order they were set), with `now()` reading each timer's own time while
 * it runs, including timers set by timers that fire during the same advance. No real time passes.
 *
 * The simulator's virtual clock does this for whole clusters; this one is for a single component.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * let fired = false;
 * clock.setTimer(100, () => { fired = true; });
 * clock.advance(99);  // fired === false
 * clock.advance(1);   // fired === true
 * ```
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Map<number, ManualTimer>();

  /** @param startMs - the initial reading; default 1,000,000 (non-zero to catch absolute/relative mix-ups) */
  constructor(startMs = 1_000_000) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const seq = ++this.seq;
    this.timers.set(seq, { at: this.time + Math.max(0, delayMs), seq, fn });
    return seq as unknown as TimerHandle;
  }

  cancel(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  /** Timers set and neither fired nor cancelled. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way.
   *
   * @returns how many timers fired
   * @throws CairnError `LIMIT_EXCEEDED` when timers keep re-arming without letting time pass
   */
  advance(ms: number): number {
    const end = this.time + ms;
    let fired = 0;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers.values()) {
        if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) {
          next = t;
        }
      }
      if (next === undefined) break;
      if (++fired > MAX_FIRINGS_PER_ADVANCE) {
        throw new CairnError(
          'LIMIT_EXCEEDED',
          `more than ${MAX_FIRINGS_PER_ADVANCE} timers fired in one advance`,
        );
      }
      this.timers.delete(next.seq);
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = Math.max(this.time, end);
    return fired;
  }
}
