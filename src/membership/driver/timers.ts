import { describeError } from '../../core/index.js';
import type { Driver } from './context.js';

/**
 * Runs `fn` every `intervalMs` under the timer `name` until shutdown; a throw is logged, not fatal.
 * The first run comes after a random delay drawn from `rng` (default the node's).
 */
export function every(d: Driver, name: string, intervalMs: number, fn: () => void, rng = d.rng): void {
  // A random first delay spreads nodes that start together over the interval.
  const arm = (delay: number) => {
    d.timers.set(
      name,
      d.clock.setTimer(delay, () => {
        if (d.stopped) return;
        arm(intervalMs);
        guard(d, name, fn);
      }),
    );
  };
  arm(rng.float() * intervalMs);
}

function guard(d: Driver, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    d.logger.error({ err: describeError(err), what }, 'membership task failed');
  }
}
