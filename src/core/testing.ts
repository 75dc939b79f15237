/** Helpers for tests of any brick (not exported from `cairn/core`). */

/**
 * `value` with every byte array as a number array, recursively through arrays and plain objects,
 * so that a Buffer and a Uint8Array of equal bytes compare equal in `assert.deepEqual` (decoders
 * return Buffers, a Uint8Array subclass).
 */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}
