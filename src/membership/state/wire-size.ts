/**
 * MessagePack sizes computed without encoding.
 *
 * The delta writer fills a packet record by record; encoding the whole delta again after each
 * record would make filling a packet quadratic. These helpers give the exact encoded size of the
 * pieces Cairn's codec (`msgpackr`, plain MessagePack) writes, and `wire-size.test.ts` checks each
 * one against the codec.
 */

/** Encoded size of a non-negative safe integer: fixint, uint8/16/32, or 9 bytes past 32 bits. */
export function uintBytes(x: number): number {
  return x < 0x80 ? 1 : x < 0x100 ? 2 : x < 0x10000 ? 3 : x < 0x1_0000_0000 ? 5 : 9;
}

/** Encoded size of a string of `utf8Length` UTF-8 bytes: fixstr, str8, str16 or str32 header plus bytes. */
export function strBytesOfLength(utf8Length: number): number {
  const n = utf8Length;
  return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

/** Encoded size of a string. */
export function strBytes(text: string): number {
  return strBytesOfLength(Buffer.byteLength(text, 'utf8'));
}

/** Encoded size of a byte array of `length` bytes (bin8, bin16 or bin32 header plus bytes). */
export function binBytes(length: number): number {
  return length + (length < 0x100 ? 2 : length < 0x10000 ? 3 : 5);
}

/** Encoded size of an array header (fixarray, array16, array32) for `count` items. */
export function arrayHeaderBytes(count: number): number {
  return count < 0x10 ? 1 : count < 0x10000 ? 3 : 5;
}
