import { assert } from '../../../core/assert.js';

/**
 * The HPACK Huffman code (RFC 7541 §5.2 and Appendix B): a table-driven decoder that reads four
 * bits at a time, and an encoder (used by tests and for sizing; the server sends plain literals).
 *
 * The code in Appendix B is canonical: within one code length, codes are consecutive and follow
 * the symbols' order, and shorter codes come first. So the 257 code lengths below determine every
 * code; the module derives the codes at load and the tests check samples against the RFC's table.
 *
 * Decoding walks a state machine whose states are the 256 inner nodes of the code tree: from a
 * state, four input bits lead to another state and emit at most one symbol (the shortest code is
 * five bits long, so four bits can never finish two). One table lookup per nibble, no allocation.
 */

/** Symbol number of EOS, the 257th symbol: it may only appear as a prefix in the final padding. */
export const HUFFMAN_EOS = 256;

/** Bits in each symbol's code (symbols 0-255, then EOS), from RFC 7541 Appendix B. */
// biome-ignore format: sixteen symbols a row, so a symbol's row and column give its number.
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

/** Each symbol's code, right-aligned (the value the RFC's "code as hex" column shows). */
export const HUFFMAN_CODES: Uint32Array = canonicalCodes(CODE_LENGTHS);
/** Each symbol's code length in bits. */
export const HUFFMAN_CODE_BITS: Uint8Array = Uint8Array.from(CODE_LENGTHS);

/** Assigns canonical codes: by length, then by symbol, each the previous plus one, shifted on. */
function canonicalCodes(lengths: readonly number[]): Uint32Array {
  const order = lengths.map((_, symbol) => symbol).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  let bits = lengths[order[0]!]!;
  for (let i = 0; i < order.length; i++) {
    const symbol = order[i]!;
    const length = lengths[symbol]!;
    if (i > 0) code = (code + 1) * 2 ** (length - bits);
    bits = length;
    codes[symbol] = code;
  }
  // A complete prefix code ends on the all-ones code of the longest length (EOS's 30 ones).
  assert(code === 2 ** bits - 1, 'the HPACK Huffman code lengths do not form a complete code');
  return codes;
}

// A transition entry: bits 0-7 the next state, bits 8-15 the emitted symbol, then two flags.
const EMIT = 1 << 16;
const FAIL = 1 << 17;

/** `TRANSITIONS[state * 16 + nibble]`: where four bits lead from a state, and what they emit. */
const TRANSITIONS = new Uint32Array(256 * 16);
/**
 * `ACCEPTING[state]` is 1 when input may end in that state: the bits read since the last symbol
 * are all ones and at most seven of them (§5.2: padding is a prefix of EOS, shorter than a byte).
 */
const ACCEPTING = new Uint8Array(256);
buildDecoder();

function buildDecoder(): void {
  // The code tree: inner nodes 0..255 (0 the root); a child is an inner node (>= 0) or the leaf
  // of symbol s, stored as -(s + 1).
  const children = new Int16Array(256 * 2).fill(0x7fff);
  let nodes = 1;
  for (let symbol = 0; symbol <= HUFFMAN_EOS; symbol++) {
    const length = HUFFMAN_CODE_BITS[symbol]!;
    const code = HUFFMAN_CODES[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const slot = node * 2 + ((code >>> bit) & 1);
      if (children[slot] === 0x7fff) children[slot] = nodes++;
      node = children[slot]!;
      assert(node >= 0, 'the HPACK Huffman code is not prefix-free');
    }
    const slot = node * 2 + (code & 1);
    assert(children[slot] === 0x7fff, 'the HPACK Huffman code is not prefix-free');
    children[slot] = -(symbol + 1);
  }
  assert(nodes === 256 && !children.includes(0x7fff), 'the HPACK Huffman code tree is not full');
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >>> bit) & 1)]!;
        if (child >= 0) {
          node = child;
          continue;
        }
        const symbol = -child - 1;
        if (symbol === HUFFMAN_EOS) {
          entry = FAIL;
          break;
        }
        entry = EMIT | (symbol << 8);
        node = 0;
      }
      TRANSITIONS[state * 16 + nibble] = entry | node;
    }
  }
  let node = 0;
  for (let ones = 0; ones <= 7; ones++) {
    ACCEPTING[node] = 1;
    node = children[node * 2 + 1]!;
  }
}

/** {@link huffmanDecode} found EOS inside the string (RFC 7541 §5.2: a decoding error). */
export const HUFFMAN_EOS_IN_STRING = -1;
/** {@link huffmanDecode} found padding longer than 7 bits or not all ones (§5.2). */
export const HUFFMAN_BAD_PADDING = -2;

/** The most bytes `n` Huffman-coded bytes can decode to (five bits is the shortest code). */
export function huffmanDecodedLengthMax(n: number): number {
  return Math.floor((n * 8) / 5);
}

/**
 * Decodes `src[start..end)` into `out` from offset 0.
 *
 * Contract: `out` must hold at least {@link huffmanDecodedLengthMax}`(end - start)` bytes.
 * Returns the number of bytes written, or {@link HUFFMAN_EOS_IN_STRING} or
 * {@link HUFFMAN_BAD_PADDING} when the input is not a valid HPACK Huffman string (the caller
 * reports those as a compression error). Never throws for any input bytes.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let entry = TRANSITIONS[(state << 4) | (byte >>> 4)]!;
    if ((entry & FAIL) !== 0) return HUFFMAN_EOS_IN_STRING;
    if ((entry & EMIT) !== 0) out[n++] = entry >>> 8;
    state = entry & 0xff;
    entry = TRANSITIONS[(state << 4) | (byte & 0x0f)]!;
    if ((entry & FAIL) !== 0) return HUFFMAN_EOS_IN_STRING;
    if ((entry & EMIT) !== 0) out[n++] = entry >>> 8;
    state = entry & 0xff;
  }
  return ACCEPTING[state] === 1 ? n : HUFFMAN_BAD_PADDING;
}

/** Bytes the Huffman coding of latin1 string `s` takes (each char's code, padded to a byte). */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_CODE_BITS[s.charCodeAt(i) & 0xff]!;
  return Math.ceil(bits / 8);
}

/**
 * Huffman-codes latin1 string `s` (RFC 7541 §5.2), padding the last byte with the high bits of
 * EOS (ones). Characters above U+00FF are a caller's error: a RangeError.
 *
 * @example
 * ```ts
 * huffmanEncode('no-cache'); // <Buffer a8 eb 10 64 9c bf> (RFC 7541 C.4.2)
 * ```
 */
export function huffmanEncode(s: string): Buffer {
  const out = Buffer.allocUnsafe(huffmanEncodedLength(s));
  // Pending bits, at most 7 + 30 of them: exact in a double (below 2^53), unlike a 32-bit int.
  let pending = 0;
  let pendingBits = 0;
  let at = 0;
  for (let i = 0; i < s.length; i++) {
    const symbol = s.charCodeAt(i);
    if (symbol > 0xff) throw new RangeError(`huffmanEncode: char ${symbol} at ${i} is not latin1`);
    const bits = HUFFMAN_CODE_BITS[symbol]!;
    pending = pending * 2 ** bits + HUFFMAN_CODES[symbol]!;
    pendingBits += bits;
    while (pendingBits >= 8) {
      pendingBits -= 8;
      const scale = 2 ** pendingBits;
      const byte = Math.floor(pending / scale);
      out[at++] = byte;
      pending -= byte * scale;
    }
  }
  if (pendingBits > 0) out[at++] = (pending << (8 - pendingBits)) | (0xff >>> pendingBits);
  return out;
}
