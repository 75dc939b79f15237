import { CairnError } from './errors.js';

/**
 * The `DEFAULT_LIMITS` pattern.
 *
 * Every brick exports a frozen `DEFAULT_LIMITS` object: one named maximum per queue, map, batch,
 * message size and retry loop, each with a one-line reason in its doc comment. Code checks a value
 * against its limit with {@link checkLimit}; going over is an explicit rejection
 * (`LIMIT_EXCEEDED`), never a silent drop or truncation.
 */

/** Limits that the core itself enforces. */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest message the codec decodes: bounds the memory one malformed input can cost. */
  maxDecodeBytes: 16 * 1024 * 1024,
  /** Deepest nesting the validator follows: a hostile message cannot exhaust the stack. */
  maxValidateDepth: 32,
  /**
   * Values in one decoded message (scalars, arrays, maps; a map entry is two), counted before
   * decoding: each costs at least a heap slot per input byte. A Scuttlebutt SynAck at the state
   * limits, the largest message a node sends, holds about 280,000.
   */
  maxDecodeItems: 1 << 20,
  /**
   * Arrays and maps in one decoded message, empty ones included, counted before decoding: an empty
   * map is 1 byte on the wire and an object on the heap, so this is what bounds a hostile message's
   * heap. A SynAck at the state limits holds about 66,000.
   */
  maxDecodeContainers: 1 << 18,
  /** Deepest nesting of arrays and maps the decoder is handed: a state message, Cairn's deepest, nests 5. */
  maxDecodeDepth: 32,
});

/** The type of {@link DEFAULT_LIMITS}. */
export type CoreLimits = typeof DEFAULT_LIMITS;

/**
 * Throws `LIMIT_EXCEEDED` when `value > max`.
 *
 * @param name - the limit's name as it appears in `DEFAULT_LIMITS`, quoted in the error
 * @param value - the value being checked
 * @param max - the limit
 * @param what - what is being limited, for the message (default: the limit's name)
 */
export function checkLimit(name: string, value: number, max: number, what = name): void {
  if (value > max) {
    throw new CairnError('LIMIT_EXCEEDED', `${what} is ${value}, over the limit ${name}=${max}`, {
      details: { limit: name, value, max },
    });
  }
}

/**
 * Merges overrides into a limits object, rejecting unknown names and non-positive values so that a
 * typo cannot silently disable a bound.
 */
export function withLimits<T extends Record<string, number>>(defaults: T, overrides: Partial<T> = {}): T {
  const out: Record<string, number> = { ...defaults };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in defaults)) throw new CairnError('INVALID_CONFIG', `unknown limit "${key}"`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new CairnError(
        'INVALID_CONFIG',
        `limit "${key}" must be a positive number, got ${String(value)}`,
      );
    }
    out[key] = value;
  }
  return Object.freeze(out) as T;
}
