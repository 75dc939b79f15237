import type { Operation } from './history.js';
import { type Model, UNKNOWN } from './model.js';

/**
 * The reference the checker is tested against: the definition of linearizability, searched
 * exhaustively on the whole history (no partitions, no memo, no entry list). An operation may go
 * next iff no other remaining operation returned before it was called; the history is
 * linearizable iff some order linearizes every completed operation (operations of unknown outcome
 * may be left out). A partitioned model runs as one state machine over all partitions (a map from
 * partition key to that partition's state), so the split the checker makes is tested too.
 * Exponential: for histories of a handful of operations only.
 */
export function bruteForceLinearizable<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
): boolean {
  const keyOf = (input: I) => model.partitionKey?.(input) ?? '';
  const search = (remaining: readonly Operation<I, O>[], states: ReadonlyMap<string, S>): boolean => {
    if (remaining.every((op) => op.output === UNKNOWN)) return true;
    for (const op of remaining) {
      if (remaining.some((q) => q !== op && q.ret < op.call)) continue;
      const key = keyOf(op.input);
      const [legal, after] = model.step(states.get(key) ?? model.init(), op.input, op.output);
      if (!legal) continue;
      const next = new Map(states).set(key, after);
      if (
        search(
          remaining.filter((q) => q !== op),
          next,
        )
      )
        return true;
    }
    return false;
  };
  return search(ops, new Map());
}
