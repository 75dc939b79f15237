import { bytesEqual, concatBytes, sha256 } from '../../core/index.js';
import type { StateValue } from '../../membership/types.js';
import type { RingNode, RingNodeStatus, Token } from '../types.js';
import { readToken, writeToken } from './partitioner.js';
import { RING_LIMITS } from './ring.js';

/**
 * A node's ring entry as it travels in membership state (Scuttlebutt key/values).
 *
 * Membership bounds one value to 512 bytes and a node may own 256 tokens (2 KiB), so the advert is
 * one binary payload split over keys `kv.0`, `kv.1`, ... Every chunk starts with the same 4-byte
 * digest of the whole payload: keys travel separately, so a reader may see `kv.0` of a new advert
 * and `kv.1` of an old one; the digests then disagree and the advert reads as absent until the
 * rest arrives, never as a mix of two.
 *
 * Payload (big-endian): format (1 byte, 1), status (1 byte: 0 joining, 1 normal, 2 leaving),
 * chunk count (1 byte), resp length (1 byte) and its UTF-8 bytes, token count (2 bytes), tokens
 * (8 bytes each). Chunk `i` is the digest followed by payload bytes [i * 508, (i + 1) * 508).
 */

/** The prefix of every ring state key. */
export const RING_STATE_PREFIX = 'kv.';

/**
 * The state key a node that left the ring (decommissioned, or off it after its removal) publishes
 * in place of an advert, value `[1]`. An advert that is merely absent is not a departure: a node
 * that restarts starts a new membership generation, its peers drop its old state at once, and its
 * advert is missing until it publishes it again; peers keep its last advert until then.
 */
export const OFF_RING_KEY = `${RING_STATE_PREFIX}off`;

/** True when a member's state says it left the ring ({@link OFF_RING_KEY}). Never throws. */
export function isOffRing(values: (key: string) => StateValue | undefined): boolean {
  try {
    const v = values(OFF_RING_KEY);
    return v instanceof Uint8Array && v.length === 1 && v[0] === 1;
  } catch {
    return false;
  }
}

/** Limits of the advert format. */
export const ADVERT_LIMITS = Object.freeze({
  /** Bytes of one state value: membership's `maxValueBytes` default. */
  maxValueBytes: 512,
  /** Chunks of one advert: 256 tokens (2 KiB) plus a header fit in 5; more is a hostile advert. */
  maxChunks: 8,
  /** Bytes of the RESP address `host:port`: a DNS name is at most 253 bytes. */
  maxRespBytes: 255,
});

const FORMAT = 1;
const DIGEST_BYTES = 4;
const CHUNK_PAYLOAD = ADVERT_LIMITS.maxValueBytes - DIGEST_BYTES;
const STATUS_CODES: readonly RingNodeStatus[] = ['joining', 'normal', 'leaving'];
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function chunkKey(prefix: string, i: number): string {
  return `${prefix}${i}`;
}

/**
 * Splits `payload` over state keys `<prefix>0`, `<prefix>1`, ..., each the payload's 4-byte digest
 * followed by up to 508 payload bytes. Byte 2 of `payload` is set to the chunk count (readers
 * check it against the chunks they find). Used for adverts and for ghosts (`ghosts.ts`).
 *
 * @throws RangeError when the payload needs more than `maxChunks` chunks (a caller's bug)
 */
export function encodeChunked(prefix: string, payload: Uint8Array): Map<string, Uint8Array> {
  const chunks = Math.max(1, Math.ceil(payload.length / CHUNK_PAYLOAD));
  if (chunks > ADVERT_LIMITS.maxChunks) throw new RangeError('payload too large to publish');
  payload[2] = chunks;
  const digest = sha256(payload).subarray(0, DIGEST_BYTES);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < chunks; i++) {
    const part = payload.subarray(i * CHUNK_PAYLOAD, (i + 1) * CHUNK_PAYLOAD);
    out.set(chunkKey(prefix, i), concatBytes([digest, part]));
  }
  return out;
}

/**
 * The payload published under `<prefix>0..` by {@link encodeChunked}, or undefined when it is
 * absent or torn (chunks of two payloads), a chunk is not bytes of at most 512, the chunk count
 * (payload byte 2) is not 1 to `maxChunks`, or the digest does not match. Never throws.
 */
export function decodeChunked(
  values: (key: string) => StateValue | undefined,
  prefix: string,
): Uint8Array | undefined {
  try {
    const first = chunkAt(values, prefix, 0);
    if (first === undefined) return undefined;
    const digest = first.subarray(0, DIGEST_BYTES);
    const chunks = first.length > DIGEST_BYTES + 2 ? first[DIGEST_BYTES + 2]! : 0;
    if (chunks < 1 || chunks > ADVERT_LIMITS.maxChunks) return undefined;
    const parts: Uint8Array[] = [first.subarray(DIGEST_BYTES)];
    for (let i = 1; i < chunks; i++) {
      const chunk = chunkAt(values, prefix, i);
      if (chunk === undefined || !bytesEqual(chunk.subarray(0, DIGEST_BYTES), digest)) return undefined;
      parts.push(chunk.subarray(DIGEST_BYTES));
    }
    const payload = concatBytes(parts);
    if (!bytesEqual(sha256(payload).subarray(0, DIGEST_BYTES), digest)) return undefined;
    return payload;
  } catch {
    // A lookup that throws is the caller's problem, not a reason to crash the ring.
    return undefined;
  }
}

function encodePayload(node: Omit<RingNode, 'name'>, chunks: number): Uint8Array {
  const resp = encoder.encode(node.resp ?? '');
  if (resp.length > ADVERT_LIMITS.maxRespBytes) throw new RangeError('resp address is too long');
  const out = new Uint8Array(6 + resp.length + node.tokens.length * 8);
  out[0] = FORMAT;
  out[1] = STATUS_CODES.indexOf(node.status);
  out[2] = chunks;
  out[3] = resp.length;
  out.set(resp, 4);
  let off = 4 + resp.length;
  out[off] = node.tokens.length >>> 8;
  out[off + 1] = node.tokens.length & 0xff;
  off += 2;
  for (const t of node.tokens) {
    writeToken(out, off, t);
    off += 8;
  }
  return out;
}

/**
 * The state values that publish `node`'s ring entry: keys `kv.0` .. `kv.<n-1>`, each at most 512
 * bytes.
 *
 * @throws RangeError when the node has more than 256 tokens, an unknown status or a resp address
 *   over 255 bytes (a bug in the caller: its own entry is always within bounds)
 * @example
 * ```ts
 * view.publish(encodeRingAdvert({ tokens, status: 'joining', resp: '127.0.0.1:6380' }));
 * ```
 */
export function encodeRingAdvert(node: Omit<RingNode, 'name'>): Map<string, Uint8Array> {
  return encodeChunked(RING_STATE_PREFIX, encodeAdvertPayload(node));
}

/**
 * @internal The advert's payload (its chunk count byte left 0 for {@link encodeChunked} to set).
 *
 * @throws RangeError as {@link encodeRingAdvert}
 */
export function encodeAdvertPayload(node: Omit<RingNode, 'name'>): Uint8Array {
  if (node.tokens.length > RING_LIMITS.maxTokensPerNode) throw new RangeError('too many tokens to advertise');
  if (!STATUS_CODES.includes(node.status)) throw new RangeError(`unknown ring status ${String(node.status)}`);
  return encodePayload(node, 0);
}

function chunkAt(
  values: (key: string) => StateValue | undefined,
  prefix: string,
  i: number,
): Uint8Array | undefined {
  const value = values(chunkKey(prefix, i));
  if (!(value instanceof Uint8Array)) return undefined;
  if (value.length <= DIGEST_BYTES || value.length > ADVERT_LIMITS.maxValueBytes) return undefined;
  return value;
}

/** @internal An advert's payload (its chunk count byte must be `chunks`), or undefined when malformed. */
export function parseAdvertPayload(payload: Uint8Array, chunks: number): Omit<RingNode, 'name'> | undefined {
  if (payload.length < 6 || payload[0] !== FORMAT || payload[2] !== chunks) return undefined;
  const status = STATUS_CODES[payload[1]!];
  if (status === undefined) return undefined;
  const respLength = payload[3]!;
  if (payload.length < 6 + respLength) return undefined;
  let resp: string;
  try {
    resp = decoder.decode(payload.subarray(4, 4 + respLength));
  } catch {
    return undefined;
  }
  let off = 4 + respLength;
  const count = (payload[off]! << 8) | payload[off + 1]!;
  off += 2;
  if (count > RING_LIMITS.maxTokensPerNode || payload.length !== off + count * 8) return undefined;
  const tokens: Token[] = [];
  const seen = new Set<Token>();
  for (let i = 0; i < count; i++, off += 8) {
    const t = readToken(payload, off);
    if (seen.has(t)) return undefined;
    seen.add(t);
    tokens.push(t);
  }
  return respLength === 0 ? { tokens, status } : { tokens, status, resp };
}

/**
 * A node's ring entry from its state values (`values(key)` looks one up), or undefined when it is
 * absent, torn (chunks of two different adverts) or malformed. Never throws.
 *
 * Validation: every chunk is bytes of at most 512, the chunk count is at most 8, the digests agree
 * and match the payload, the format and status are known, the resp address is UTF-8, and there are
 * at most 256 distinct tokens.
 */
export function decodeRingAdvert(
  values: (key: string) => StateValue | undefined,
): Omit<RingNode, 'name'> | undefined {
  const payload = decodeChunked(values, RING_STATE_PREFIX);
  if (payload === undefined) return undefined;
  try {
    return parseAdvertPayload(payload, payload[2]!);
  } catch {
    return undefined;
  }
}
