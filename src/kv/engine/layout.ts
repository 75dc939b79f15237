import { CairnError, type KeyRange, slabBytes } from '../../core/index.js';
import { MAX_TOKEN, readToken, writeToken } from '../ring/partitioner.js';
import type { Token, TokenRange } from '../types.js';

/**
 * The partitioned store's key layout in core's `Storage` (one keyspace per node, sorted by
 * unsigned bytes):
 *
 * - `0x01 | token (8 bytes, big-endian) | key`: a replica's cell for `key`. Sorting by token first
 *   makes every token range one or two contiguous key ranges, which is what streaming, scans and
 *   Merkle trees iterate.
 * - `0x02 | target name length (1 byte) | target name (UTF-8) | hint id (12 bytes)`: hinted handoff,
 *   oldest first per target.
 * - `0x03 | name (UTF-8)`: local metadata (the live-value count, the node's tokens and status).
 *
 * The prefix bytes never change meaning: data written by one release is read by the next.
 */

/** Prefix of data keys. */
export const DATA_PREFIX = 0x01;
/** Prefix of hint keys. */
export const HINT_PREFIX = 0x02;
/** Prefix of local metadata keys. */
export const META_PREFIX = 0x03;

/** Bytes before the user key in a data key. */
export const DATA_KEY_OVERHEAD = 9;

/** The storage key of `key`, whose token is `token`. */
export function dataKey(token: Token, key: Uint8Array): Uint8Array {
  const out = slabBytes(DATA_KEY_OVERHEAD + key.length); // every byte written below
  out[0] = DATA_PREFIX;
  writeToken(out, 1, token);
  out.set(key, DATA_KEY_OVERHEAD);
  return out;
}

/** The token and user key of a data key (the key is a copy), or undefined for a key of another kind. */
export function parseDataKey(storageKey: Uint8Array): { token: Token; key: Uint8Array } | undefined {
  if (storageKey.length < DATA_KEY_OVERHEAD || storageKey[0] !== DATA_PREFIX) return undefined;
  return { token: readToken(storageKey, 1), key: storageKey.slice(DATA_KEY_OVERHEAD) };
}

/** The storage key of local metadata entry `name`. */
export function metaKey(name: string): Uint8Array {
  const text = new TextEncoder().encode(name);
  const out = new Uint8Array(1 + text.length);
  out[0] = META_PREFIX;
  out.set(text, 1);
  return out;
}

/** An inclusive run of tokens `[first, last]`. */
export interface TokenSpan {
  readonly first: Token;
  readonly last: Token;
}

/**
 * The token spans of `(start, end]` in clockwise order from `start`: one span, or two when the range
 * wraps past 2^64 - 1 (the whole ring `start === end` is `(start, max]` then `[0, start]`).
 */
export function clockwiseSpans(r: TokenRange): TokenSpan[] {
  const { start, end } = r;
  if (start < end) return [{ first: start + 1n, last: end }];
  const spans: TokenSpan[] = [];
  if (start < MAX_TOKEN) spans.push({ first: start + 1n, last: MAX_TOKEN });
  spans.push({ first: 0n, last: end });
  return spans;
}

/** The storage key range holding the data keys whose token lies in `span`. */
export function spanKeyRange(span: TokenSpan): KeyRange {
  const gte = new Uint8Array(DATA_KEY_OVERHEAD);
  gte[0] = DATA_PREFIX;
  writeToken(gte, 1, span.first);
  if (span.last === MAX_TOKEN) return { gte, lt: Uint8Array.of(DATA_PREFIX + 1) };
  const lt = new Uint8Array(DATA_KEY_OVERHEAD);
  lt[0] = DATA_PREFIX;
  writeToken(lt, 1, span.last + 1n);
  return { gte, lt };
}

/**
 * A scan position: the data key of the last entry a page returned (opaque to callers). Checks that
 * it is one and returns its token.
 *
 * @throws CairnError `INVALID_ARGUMENT` for bytes that are not a data key
 */
export function positionToken(position: Uint8Array): Token {
  if (
    !(position instanceof Uint8Array) ||
    position.length < DATA_KEY_OVERHEAD ||
    position[0] !== DATA_PREFIX
  ) {
    throw new CairnError('INVALID_ARGUMENT', 'scan position is not one a scan returned');
  }
  return readToken(position, 1);
}
