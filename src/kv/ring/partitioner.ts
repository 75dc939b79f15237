import xxhash from 'xxhash-wasm';
import { readU32BE } from '../../core/index.js';
import type { Token, TokenRange } from '../types.js';

/**
 * The partitioner: a key's place on the ring.
 *
 * A token is XXH64 (seed 0) of the key's bytes, an unsigned 64-bit integer. Cassandra hashes with
 * Murmur3 (the first 64 bits of x64_128); XXH64 has the same job (uniform, fast, stable across
 * platforms and releases) and a maintained WebAssembly build for Node (`xxhash-wasm`) that hashes a
 * short key in about 100 ns. The hash is part of the on-disk and on-wire format: changing it moves
 * every key, so it never changes.
 */

const hasher = await xxhash();

/** The smallest token. */
export const MIN_TOKEN: Token = 0n;
/** The largest token, 2^64 - 1. */
export const MAX_TOKEN: Token = (1n << 64n) - 1n;
/** Number of tokens on the ring, 2^64. */
export const RING_SIZE = 1n << 64n;

/**
 * The token of `key`: XXH64 of its bytes, 0 <= token < 2^64.
 *
 * @example
 * ```ts
 * tokenOf(utf8('user:1')); // 0x...n, the same on every node and every release
 * ```
 */
export function tokenOf(key: Uint8Array): Token {
  return hasher.h64Raw(key, 0n);
}

/** True when `t` is a bigint token in [0, 2^64). */
export function isToken(t: unknown): t is Token {
  return typeof t === 'bigint' && t >= MIN_TOKEN && t <= MAX_TOKEN;
}

/** The 8 big-endian bytes of token `t`: byte order sorts like the tokens. */
export function tokenBytes(t: Token): Uint8Array {
  const out = new Uint8Array(8);
  writeToken(out, 0, t);
  return out;
}

/** Writes token `t` as 8 big-endian bytes at `offset` of `out`. */
export function writeToken(out: Uint8Array, offset: number, t: Token): void {
  const hi = Number(t >> 32n);
  const lo = Number(t & 0xffffffffn);
  out[offset] = hi >>> 24;
  out[offset + 1] = (hi >>> 16) & 0xff;
  out[offset + 2] = (hi >>> 8) & 0xff;
  out[offset + 3] = hi & 0xff;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = (lo >>> 16) & 0xff;
  out[offset + 6] = (lo >>> 8) & 0xff;
  out[offset + 7] = lo & 0xff;
}

/** The token stored as 8 big-endian bytes at `offset` of `bytes` (the caller checks the length). */
export function readToken(bytes: Uint8Array, offset = 0): Token {
  return (BigInt(readU32BE(bytes, offset)) << 32n) | BigInt(readU32BE(bytes, offset + 4));
}

/**
 * True when `t` lies in `r = (start, end]`; wrapping past 2^64 - 1 when `start >= end`, the whole
 * ring when `start === end`.
 */
export function inTokenRange(t: Token, r: TokenRange): boolean {
  if (r.start === r.end) return true;
  if (r.start < r.end) return t > r.start && t <= r.end;
  return t > r.start || t <= r.end;
}

/** How many tokens `r` holds: `end - start` modulo 2^64, and 2^64 for the whole ring. */
export function rangeWidth(r: TokenRange): bigint {
  if (r.start === r.end) return RING_SIZE;
  return r.start < r.end ? r.end - r.start : RING_SIZE - r.start + r.end;
}

/** True when `r` is the whole ring. */
export function isWholeRing(r: TokenRange): boolean {
  return r.start === r.end;
}

/** True when `r` has token bounds in [0, 2^64). */
export function isTokenRange(r: unknown): r is TokenRange {
  if (typeof r !== 'object' || r === null) return false;
  const { start, end } = r as Record<string, unknown>;
  return isToken(start) && isToken(end);
}
