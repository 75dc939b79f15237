import { withLimits } from '../../core/limits.js';

/** Limits of the linearizability checker and its history recorder. */
export const DEFAULT_LIMITS = Object.freeze({
  /**
   * Wall time one `checkHistory` call may spend before it answers `unknown`: the search is
   * exponential in the worst case, and a test suite must end; `unknown` is never taken for `ok`.
   */
  checkBudgetMs: 60_000,
  /**
   * Memoized (linearized set, state) pairs kept per partition: each costs a bitset and a state,
   * so this bounds the checker's memory on a pathological partition (answer `unknown` past it).
   */
  maxMemoEntries: 5_000_000,
  /** Operations one recorder accepts: a history is held in memory whole, and checked whole. */
  maxOperations: 10_000_000,
  /** Search steps between two reads of the clock: reading it on every step would dominate. */
  stepsPerClockRead: 4096,
  /** Operations around a violation printed in a report: enough context, not a wall of text. */
  reportContextOperations: 12,
});

/** The type of {@link DEFAULT_LIMITS}: every limit a number. */
export type LincheckLimits = { readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/** {@link DEFAULT_LIMITS} with overrides, validated (unknown names and non-positive values throw). */
export function lincheckLimits(overrides: Partial<LincheckLimits> = {}): LincheckLimits {
  return withLimits(DEFAULT_LIMITS, overrides);
}
