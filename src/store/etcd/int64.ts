import { StoreError } from '../errors.js';

/**
 * etcd's int64 and uint64 fields as JavaScript numbers.
 *
 * proto-loader hands 64-bit fields over as decimal strings (never a lossy double). Cairn issues
 * no revision, lease or member id above 2^53 - 1, so a larger value from a client cannot name
 * anything it holds: it is refused with etcd's invalid-argument error rather than rounded into
 * a different id.
 */

const DECIMAL = /^-?\d{1,20}$/;

/**
 * Parses a 64-bit field; `field` names it in the error.
 *
 * @throws StoreError `invalidArgument` for a value outside ±(2^53 - 1) or not an integer
 * @example
 * ```ts
 * const revision = int64(req.revision, 'revision'); // '42' -> 42
 * ```
 */
export function int64(value: unknown, field: string): number {
  if (value === undefined || value === null || value === '') return 0;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && DECIMAL.test(value)) n = Number(value);
  else throw new StoreError('invalidArgument', `${field} is not an integer`);
  if (!Number.isSafeInteger(n)) {
    throw new StoreError(
      'invalidArgument',
      `${field} ${String(value)} is beyond 2^53-1, which Cairn does not issue`,
    );
  }
  return n;
}

/** {@link int64} for a field that must not be negative (a uint64, or an id). */
export function uint64(value: unknown, field: string): number {
  const n = int64(value, field);
  if (n < 0) throw new StoreError('invalidArgument', `${field} ${n} is negative`);
  return n;
}
