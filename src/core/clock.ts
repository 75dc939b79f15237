import { performance } from 'node:perf_hooks';
import { CairnError } from './errors.js';

/**
 * Time, injected.
 *
 * Every timer in Cairn goes through a {@link Clock}. Production code gets a {@link SystemClock};
 * the simulator provides a virtual clock with the same interface, so a protocol driver runs
 * unchanged on real or virtual time.
 */

/** An opaque handle for a pending timer. */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

/**
 * The clock interface every driver uses.
 *
 * Contract: `now()` never decreases on one clock. A timer fires at most once, no earlier than
 * `delayMs` after it was set (virtual clocks fire exactly at `now() + delayMs`). Cancelling a
 * timer that has fired or was cancelled is a no-op. Timer callbacks must not throw; a throwing
 * callback is a bug and is reported by the clock's owner.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch; monotonic on this clock. May be fractional. */
  now(): number;
  /** Calls `fn` once after `delayMs` milliseconds (clamped to >= 0). */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Cancels a pending timer; a no-op for fired or cancelled timers. */
  cancel(handle: TimerHandle): void;
}

/**
 * The real clock: monotonic milliseconds anchored at the process's time origin, with Node timers.
 *
 * `now()` is `performance.timeOrigin + performance.now()`, so it reads as wall time but never
 * jumps backwards when the system clock is adjusted.
 */
export class SystemClock implements Clock {
  now(): number {
    return performance.timeOrigin + performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    if (!Number.isFinite(delayMs))
      throw new CairnError('INVALID_ARGUMENT', `timer delay ${delayMs} is not finite`);
    const t = setTimeout(fn, Math.max(0, delayMs));
    // Timers never keep the process alive on their own: shutdown is explicit.
    t.unref();
    return t as unknown as TimerHandle;
  }

  cancel(handle: TimerHandle): void {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  }
}

/** The shared system clock. */
export const systemClock: Clock = new SystemClock();

/**
 * Resolves after `ms` on `clock`. With a virtual clock this completes when the simulator reaches
 * that virtual time; it never sleeps in real time.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CairnError('CANCELLED', 'sleep was cancelled before it started'));
      return;
    }
    const onAbort = () => {
      clock.cancel(handle);
      reject(new CairnError('CANCELLED', 'sleep was cancelled'));
    };
    const handle = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
