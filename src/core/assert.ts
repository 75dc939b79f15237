import { CairnError } from './errors.js';

/**
 * Asserts an invariant: something that must never be false in correct code.
 *
 * A broken invariant is a bug, not an operating error, so it throws loudly with
 * `ASSERTION_FAILED` rather than being handled. Operating errors (a peer is down, a packet is
 * malformed) are never asserted; they are counted, logged and dropped or answered.
 *
 * @example
 * ```ts
 * assert(term >= this.term, `term went backwards: ${term} < ${this.term}`);
 * // On a hot path, a function builds the message only when the check fails:
 * assert(lo < hi, () => `invalid slice [${lo}, ${hi})`);
 * ```
 */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    const text = typeof message === 'string' ? message : message();
    throw new CairnError('ASSERTION_FAILED', `assertion failed: ${text}`);
  }
}

/**
 * Marks a branch that the type system proves unreachable; call it in the `default` of a `switch`
 * over a discriminated union so that adding a variant is a compile error.
 */
export function assertNever(value: never, what = 'value'): never {
  throw new CairnError('ASSERTION_FAILED', `unexpected ${what}: ${JSON.stringify(value)}`);
}
