/**
 * The partitioned store's errors. The Redis front end maps each code to a Redis error reply
 * (`-UNAVAILABLE ...`, `-TIMEOUT ...`), the client rethrows them with the same code.
 */

/** Every kv error code. */
export const KV_ERROR_CODES = [
  /** Too few replicas are alive (as membership sees them) to attempt the request at its level. */
  'UNAVAILABLE',
  /** Too few replicas answered before the deadline; a write may or may not have happened. */
  'TIMEOUT',
  /** This node's clock is too far from its peers' for it to make versions; it refuses to coordinate. */
  'CLOCK_SKEW',
  /** A malformed request (empty key, value too large, bad consistency level, ...). */
  'INVALID_ARGUMENT',
  /** The node is not serving yet or has stopped. */
  'STOPPED',
  /** A capability token is missing or does not allow the operation. */
  'DENIED',
] as const;

/** A kv error code; see {@link KV_ERROR_CODES}. */
export type KvErrorCode = (typeof KV_ERROR_CODES)[number];

/** An error of the partitioned store, with a stable code and a sentence for humans. */
export class KvError extends Error {
  override readonly name = 'KvError';
  constructor(
    readonly code: KvErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `value` is a {@link KvError}, optionally with `code`. */
export function isKvError(value: unknown, code?: KvErrorCode): value is KvError {
  return value instanceof KvError && (code === undefined || value.code === code);
}
