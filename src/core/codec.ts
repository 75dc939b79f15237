import { Packr } from 'msgpackr';
import { CairnError } from './errors.js';
import { checkLimit, DEFAULT_LIMITS } from './limits.js';
import type { Validator } from './validate.js';

/**
 * The wire codec: MessagePack through `msgpackr`, with validation on every decode.
 *
 * Encoding is plain MessagePack (no msgpackr record extension), so any MessagePack library can
 * read Cairn's internal messages. Decoding never returns an unchecked value: {@link decode} takes
 * a {@link Validator} and throws `DECODE_FAILED` for bytes that are not MessagePack, that have
 * trailing garbage, or whose value does not match.
 */

const packr = new Packr({
  useRecords: false,
  // Maps decode to plain objects, which the validators expect.
  mapsAsObjects: true,
  // 64-bit integers decode as numbers when safe; larger ones are rejected by the validators.
  int64AsType: 'number',
  // Byte arrays round-trip as Uint8Array (Buffer is a subclass).
  moreTypes: false,
  bundleStrings: false,
});

/** Encodes a value as MessagePack. */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Decodes MessagePack bytes and validates the result.
 *
 * @param bytes - the encoded message
 * @param validate - turns the decoded `unknown` into `T`, or throws `DECODE_FAILED`
 * @param maxBytes - the largest input accepted (default `DEFAULT_LIMITS.maxDecodeBytes`)
 * @throws CairnError `DECODE_FAILED` for malformed input, `LIMIT_EXCEEDED` for oversized input
 */
export function decode<T>(
  bytes: Uint8Array,
  validate: Validator<T>,
  maxBytes = DEFAULT_LIMITS.maxDecodeBytes,
): T {
  checkLimit('maxDecodeBytes', bytes.length, maxBytes, 'encoded message size');
  return validate(decodeUnchecked(bytes));
}

/**
 * Decodes MessagePack bytes without validating them. Only for tools that print arbitrary
 * messages; protocol code calls {@link decode}.
 */
export function decodeUnchecked(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new CairnError('DECODE_FAILED', 'cannot decode an empty message');
  let value: unknown;
  try {
    const values = packr.unpackMultiple(bytes) as unknown[];
    if (values.length !== 1) {
      throw new CairnError('DECODE_FAILED', `expected one MessagePack value, found ${values.length}`);
    }
    value = values[0];
  } catch (err) {
    if (err instanceof CairnError) throw err;
    throw new CairnError('DECODE_FAILED', `malformed MessagePack: ${(err as Error).message}`, { cause: err });
  }
  return value;
}

/** Decodes and validates, returning `undefined` instead of throwing: for drop-and-count paths. */
export function tryDecode<T>(bytes: Uint8Array, validate: Validator<T>, maxBytes?: number): T | undefined {
  try {
    return decode(bytes, validate, maxBytes);
  } catch {
    return undefined;
  }
}

/**
 * Where the MessagePack value that starts at `start` ends (the offset after its last byte), or -1
 * when the bytes up to `end` do not hold one whole value (truncated, or the unused code 0xc1).
 * Nothing is decoded or allocated: for splitting a message into pieces that are decoded (or looked
 * up) one by one. Iterative, so nesting depth costs nothing; every count is checked against the
 * bytes left before it is trusted, so a forged length never makes it loop long.
 */
export function msgpackValueEnd(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let pos = start;
  // Values still to skip; each needs at least one byte.
  let pending = 1;
  while (pending > 0) {
    if (pending > end - pos) return -1;
    const b = bytes[pos++]!;
    pending--;
    if (b <= 0x7f || b >= 0xe0) continue; // fixints
    if (b <= 0x8f) {
      pending += 2 * (b & 0x0f); // fixmap
      continue;
    }
    if (b <= 0x9f) {
      pending += b & 0x0f; // fixarray
      continue;
    }
    if (b <= 0xbf) {
      pos += b & 0x1f; // fixstr
      continue;
    }
    if (b === 0xc0 || b === 0xc2 || b === 0xc3) continue; // nil, false, true
    const size = FIXED_SIZES[b - 0xc0]!;
    if (size > 0) {
      pos += size; // numbers and fixext (a type byte and the data)
      continue;
    }
    if (size === 0) return -1; // 0xc1: never used
    // A length or count of 1, 2 or 4 bytes, big-endian.
    const width = -size & 7;
    if (pos + width > end) return -1;
    let n = 0;
    for (let i = 0; i < width; i++) n = n * 256 + bytes[pos++]!;
    if (size <= -24)
      pending += b >= 0xde ? 2 * n : n; // array, map 16/32
    else pos += size <= -8 ? n + 1 : n; // ext (a type byte), bin, str
  }
  return pos <= end ? pos : -1;
}

/**
 * Per code 0xc0..0xdf: a positive size is the bytes after the code (numbers, fixext); 0 marks the
 * unused 0xc1 (and the codes handled before the table); a negative one is minus a length width
 * (1, 2 or 4), minus 8 more for ext (a type byte follows the length) and minus 24 more for
 * collections (a count, not a length).
 */
// biome-ignore format: one row per family of codes
const FIXED_SIZES = Int8Array.from([
  0, 0, 0, 0, // c0 nil, c1 unused, c2 false, c3 true
  -1, -2, -4, // c4-c6 bin 8/16/32
  -9, -10, -12, // c7-c9 ext 8/16/32
  4, 8, // ca-cb float 32/64
  1, 2, 4, 8, // cc-cf uint 8-64
  1, 2, 4, 8, // d0-d3 int 8-64
  2, 3, 5, 9, 17, // d4-d8 fixext 1/2/4/8/16
  -1, -2, -4, // d9-db str 8/16/32
  -26, -28, // dc-dd array 16/32
  -26, -28, // de-df map 16/32
]);
