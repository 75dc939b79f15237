/** Byte helpers shared by every brick. */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** Bytes of a hex string; `undefined` when `hex` is not even-length hex. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** True when both arrays hold the same bytes. Not constant-time: use `timingSafeEqual` for secrets. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Native comparison: a JavaScript loop over a mix of Buffers and Uint8Arrays measured about
  // 6 ns a byte, the native one about 1 ns (232 bytes, Node 20).
  if (a.length >= 16) return Buffer.compare(a, b) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Concatenates byte arrays.
 *
 * @param alloc - where the result's bytes come from (e.g. core's `takeBytes`); default a new array
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  alloc: (length: number) => Uint8Array = (length) => new Uint8Array(length),
): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = alloc(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The string of UTF-8 bytes; throws on invalid UTF-8. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Arrays up to this many bytes come from a shared slab in {@link slabBytes}. */
const SLAB_MAX_PIECE = 4096;
/** Size of one slab: large enough that its allocation is rare, small enough to pin little. */
const SLAB_BYTES = 64 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

/**
 * A zeroed `Uint8Array` of `length` bytes for short-lived data (a packet in flight): up to 4 KiB it
 * is a view into a shared 64 KiB slab, otherwise a fresh array.
 *
 * Why: every `new Uint8Array(n)` allocates an ArrayBuffer with a backing store outside the JS heap,
 * and V8 reacts to fast-growing external memory with extra garbage collections; a node that sends
 * thousands of packets a second (or a simulation of thousands of nodes) spent most of its send
 * path there. Carving from a slab allocates one backing store per 64 KiB instead. And a typed
 * array of at most 64 bytes made with `new Uint8Array(n)` lives inside V8's heap: the first time
 * its `.buffer` is read (a DataView over it) or native code reads it (LevelDB's get and batch, a
 * socket write), V8 moves it out (a malloc, a copy and a backing store for the collector to sweep,
 * about 300 ns measured, several times per request on the kv paths). A slab piece never moves.
 *
 * Contract: each region is handed out once, so the bytes start zeroed and no two arrays overlap.
 * The array is a view (`byteOffset` may be non-zero and `buffer` is the slab): code that keeps it
 * for long keeps the whole slab, so keep a copy instead (`new Uint8Array(view)`).
 */
export function slabBytes(length: number): Uint8Array {
  if (length > SLAB_MAX_PIECE) return new Uint8Array(length);
  if (slabUsed + length > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, length);
  // 8-byte alignment keeps DataView and typed-array reads over the piece on aligned offsets.
  slabUsed += (length + 7) & ~7;
  return out;
}

/** A copy of `src` in {@link slabBytes} (bytes copied out of a frame that will be reused). */
export function slabCopy(src: Uint8Array): Uint8Array {
  const out = slabBytes(src.length);
  out.set(src);
  return out;
}

/**
 * The unsigned 32-bit big-endian integer at `offset` of `bytes` (the caller checks the length).
 * Byte loads, not a DataView: reading `.buffer` of a small typed array V8 keeps on its heap moves
 * its bytes to a new off-heap store (about 0.5-1 us; byte loads take tens of nanoseconds).
 */
export function readU32BE(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>>
    0
  );
}
