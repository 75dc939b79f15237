export { ManualClock } from '../../core/manual-clock.js';

/** Lets every pending promise callback run (a few macrotask turns; no timers involved). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
