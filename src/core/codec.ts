import { Packr } from 'msgpackr';
import { CairnError } from './errors.js';
import { checkLimit, DEFAULT_LIMITS } from './limits.js';
import { checkMsgpackShape } from './msgpack-scan.js';
import type { Validator } from './validate.js';

export { msgpackValueEnd } from './msgpack-scan.js';

/**
 * The wire codec: MessagePack through `msgpackr`, with validation on every decode.
 *
 * Encoding is plain MessagePack (no msgpackr record extension), so any MessagePack library can
 * read Cairn's internal messages. Decoding never returns an unchecked value: {@link decode} takes
 * a {@link Validator} and throws `DECODE_FAILED` for bytes that are not MessagePack, that have
 * trailing garbage, or whose value does not match.
 *
 * Before msgpackr sees any bytes, an allocation-free walk ({@link checkMsgpackShape}) checks that
 * they hold one well-formed value within the item, container and depth limits: the byte limit
 * alone does not bound the heap, since a 1-byte empty map decodes to an object of tens of bytes.
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
 * @throws CairnError `DECODE_FAILED` for malformed input; `LIMIT_EXCEEDED` for input over
 *   `maxBytes`, or over core's `maxDecodeItems`, `maxDecodeContainers` or `maxDecodeDepth` (checked
 *   before anything is built, and named in the error's `details.limit`)
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
 * messages; protocol code calls {@link decode}. The shape limits apply as in {@link decode}.
 */
export function decodeUnchecked(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new CairnError('DECODE_FAILED', 'cannot decode an empty message');
  checkMsgpackShape(bytes);
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
