/**
 * MessagePack length and count headers, for code that writes or reads MessagePack by hand (push-pull
 * frames, compound packets) and must produce exactly the codec's bytes: the smallest form that fits.
 */

/**
 * The header codes of a family with 8/16/32-bit lengths or counts: the code of the fix form and the
 * largest count it holds (-1 when the family has none), then the codes of the wider forms.
 */
export interface MsgpackHeaderCodes {
  readonly fix: number;
  readonly fixMax: number;
  readonly c8: number | undefined;
  readonly c16: number;
  readonly c32: number;
}

/** `bin`: bin 8, 16 and 32. */
export const MSGPACK_BIN: MsgpackHeaderCodes = { fix: 0, fixMax: -1, c8: 0xc4, c16: 0xc5, c32: 0xc6 };
/** Arrays: fixarray, array 16 and array 32. */
export const MSGPACK_ARRAY: MsgpackHeaderCodes = {
  fix: 0x90,
  fixMax: 15,
  c8: undefined,
  c16: 0xdc,
  c32: 0xdd,
};
/** Maps: fixmap, map 16 and map 32. */
export const MSGPACK_MAP: MsgpackHeaderCodes = { fix: 0x80, fixMax: 15, c8: undefined, c16: 0xde, c32: 0xdf };

/** Bytes of the header of `n` elements or bytes of the family `codes`. */
export function msgpackHeaderBytes(codes: MsgpackHeaderCodes, n: number): number {
  if (n <= codes.fixMax) return 1;
  if (codes.c8 !== undefined && n <= 0xff) return 2;
  return n <= 0xffff ? 3 : 5;
}

/**
 * Writes the header of `n` elements or bytes of the family `codes` into `out` at `at` (big-endian,
 * as MessagePack) and returns where the header ends. `out` must have room for it.
 */
export function writeMsgpackHeader(
  codes: MsgpackHeaderCodes,
  n: number,
  out: Uint8Array,
  at: number,
): number {
  if (n <= codes.fixMax) {
    out[at] = codes.fix | n;
    return at + 1;
  }
  if (codes.c8 !== undefined && n <= 0xff) {
    out[at] = codes.c8;
    out[at + 1] = n;
    return at + 2;
  }
  if (n <= 0xffff) {
    out[at] = codes.c16;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = codes.c32;
  out[at + 1] = n >>> 24;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff;
  out[at + 4] = n & 0xff;
  return at + 5;
}
