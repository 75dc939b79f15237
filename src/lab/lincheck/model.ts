/**
 * What the linearizability checker checks against: a sequential specification.
 *
 * A {@link Model} is a pure state machine. The checker searches for an order of the recorded
 * operations, consistent with real time, in which every operation's recorded output is what the
 * model would have produced from the state the earlier operations left. States are immutable
 * values: `step` returns a new state and never changes the one it was given, because the search
 * backtracks to earlier states.
 */

/**
 * The output of an operation whose completion is unknown (a timeout, a crash): it may or may not
 * have taken effect, and if it did, nobody saw its answer. A model's `step` given `UNKNOWN`
 * applies the operation's effect and accepts any output the operation could have produced.
 */
export const UNKNOWN: unique symbol = Symbol('lincheck.unknown');
/** The type of {@link UNKNOWN}. */
export type Unknown = typeof UNKNOWN;

/**
 * A sequential specification for the checker.
 *
 * Contract: `init`, `step`, `equal` and `hash` are pure and deterministic; `equal(a, b)` implies
 * `hash(a) === hash(b)`; `step` never mutates its `state` argument. A `step` that returns
 * `[false, _]` says the output is impossible from that state; the returned state is then ignored.
 *
 * @example
 * ```ts
 * const register: Model<number, { write?: number }, number> = {
 *   init: () => 0,
 *   step: (s, input, out) =>
 *     input.write !== undefined ? [true, input.write] : [out === UNKNOWN || out === s, s],
 *   equal: (a, b) => a === b,
 *   hash: (s) => String(s),
 * };
 * ```
 */
export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init(): State;
  /**
   * Applies `input` to `state`. Returns whether `output` is a legal answer from `state` (any
   * output is legal when it is {@link UNKNOWN} and the operation can happen at all) and the state
   * after the operation.
   */
  step(state: State, input: Input, output: Output | Unknown): readonly [boolean, State];
  /** True when two states are the same; the search memoizes on it. */
  equal(a: State, b: State): boolean;
  /** A string equal for equal states (a hash or a canonical form), for the memo table. */
  hash(state: State): string;
  /**
   * The partition an operation belongs to (P-compositionality: a history is linearizable iff each
   * partition's sub-history is, when operations of different partitions touch disjoint state).
   * Absent: the whole history is one partition.
   */
  partitionKey?(input: Input): string;
  /** A one-line description of an operation for reports, e.g. `put(a, "1") -> rev 4`. */
  describeOperation?(input: Input, output: Output | Unknown): string;
  /** A one-line description of a state for reports. */
  describeState?(state: State): string;
}
