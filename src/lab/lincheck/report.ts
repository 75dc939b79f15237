import type { Violation } from './check.js';
import type { Operation } from './history.js';
import type { Model } from './model.js';

/**
 * Prints a violation for humans: the partition, the tail of the longest legal prefix with each
 * operation's client and times, the state it leaves, and the operations that could not follow.
 *
 * @example
 * ```text
 * not linearizable: partition "a" (5 operations; 3 linearized before the search got stuck)
 * legal prefix (last 3):
 *   #0  client 1  [1, 2]    put(a, "1") -> ok
 *   ...
 * state after it: "1" @ rev 2
 * could not go on: none of these is legal next, or each leads to a dead end:
 *   #4  client 2  [7, 8]    get(a) -> "0"
 * #4 returned before it could be linearized.
 * ```
 */
export function formatViolation<S, I, O>(
  model: Model<S, I, O>,
  v: Violation<S, I, O>,
  contextOperations: number,
): string {
  const lines: string[] = [];
  const name = v.partition === '' ? 'the history' : `partition ${JSON.stringify(v.partition)}`;
  lines.push(
    `not linearizable: ${name} (${v.operations.length} operations; ` +
      `${v.linearized.length} linearized before the search got stuck)`,
  );
  const shown = v.linearized.slice(-contextOperations);
  if (shown.length === 0) lines.push('legal prefix: empty');
  else {
    const what =
      shown.length < v.linearized.length ? `last ${shown.length} of ${v.linearized.length}` : 'all';
    lines.push(`legal prefix (${what}):`);
    for (const op of shown) lines.push(`  ${formatOperation(model, op)}`);
  }
  lines.push(`state after it: ${model.describeState?.(v.state) ?? JSON.stringify(v.state)}`);
  lines.push('could not go on: none of these is legal next, or each leads to a dead end:');
  for (const op of v.candidates.slice(0, contextOperations)) {
    const [legal] = model.step(v.state, op.input, op.output);
    lines.push(`  ${formatOperation(model, op)}${legal ? '' : '   <- illegal from this state'}`);
  }
  if (v.candidates.length > contextOperations) {
    lines.push(`  ... and ${v.candidates.length - contextOperations} more`);
  }
  if (v.blocked !== undefined) lines.push(`#${v.blocked.id} returned before it could be linearized.`);
  return lines.join('\n');
}

/** `#id  client c  [call, ret]  description`. */
export function formatOperation<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const ret = op.ret === Number.POSITIVE_INFINITY ? 'inf' : String(op.ret);
  const what = model.describeOperation?.(op.input, op.output) ?? JSON.stringify(op.input);
  return `#${op.id}  client ${op.clientId}  [${op.call}, ${ret}]  ${what}`;
}
