/**
 * `n` bytes for an encoder that writes every one of them, held off the V8 heap: a plain Uint8Array
 * view of a slice of Node's pooled Buffer slab (`Buffer.allocUnsafe`; a larger size gets its own
 * buffer). The contents are uninitialised, so the caller must write every byte.
 *
 * Why not `new Uint8Array(n)`: V8 keeps a typed array of at most 64 bytes inside its own heap, and
 * the first time its `.buffer` is read (a DataView over it) or native code reads it (LevelDB's get
 * and batch, a socket write), V8 moves it out: a malloc, a copy, and a backing store for the
 * collector to sweep, about 300 ns measured, several times per request on the kv paths (storage
 * keys, encoded cells, wire messages).
 *
 * A view keeps its whole slab (8 KiB) alive: use it for bytes handed on (to storage, which copies
 * them, or to the wire), not for bytes kept long in memory.
 */
export function allocBytes(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** A copy of `src` in bytes from {@link allocBytes} (received bytes the store keeps). */
export function copyBytes(src: Uint8Array): Uint8Array {
  const out = allocBytes(src.length);
  out.set(src);
  return out;
}
