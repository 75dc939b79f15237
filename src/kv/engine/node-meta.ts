import { CairnError, type Storage } from '../../core/index.js';
import { isToken, readToken, writeToken } from '../ring/partitioner.js';
import { RING_LIMITS } from '../ring/ring.js';
import type { Token } from '../types.js';
import { metaKey } from './layout.js';

/**
 * What a node persists about its own place on the ring, in the same `Storage` as its cells: its
 * tokens (kept across restarts, so a restarted node owns what it owned) and whether it finished
 * joining.
 *
 * Byte form: format (1 byte, 1), status (1 byte: 0 joining, 1 normal, 2 left), token count
 * (2 bytes, big-endian), tokens (8 bytes each, big-endian).
 */
export interface NodeMeta {
  readonly tokens: readonly Token[];
  /** `joining` until the node has streamed its ranges; `left` once decommissioned. */
  readonly status: 'joining' | 'normal' | 'left';
}

const KEY = metaKey('node');
const FORMAT = 1;
const STATUSES: readonly NodeMeta['status'][] = ['joining', 'normal', 'left'];

/** The byte form of `meta`. @throws CairnError `INVALID_ARGUMENT` for a bad status or token list */
export function encodeNodeMeta(meta: NodeMeta): Uint8Array {
  const status = STATUSES.indexOf(meta.status);
  if (status < 0) throw new CairnError('INVALID_ARGUMENT', `unknown node status ${String(meta.status)}`);
  if (meta.tokens.length > RING_LIMITS.maxTokensPerNode || !meta.tokens.every(isToken)) {
    throw new CairnError('INVALID_ARGUMENT', 'node tokens must be at most 256 tokens in [0, 2^64)');
  }
  const out = new Uint8Array(4 + meta.tokens.length * 8);
  out[0] = FORMAT;
  out[1] = status;
  out[2] = meta.tokens.length >>> 8;
  out[3] = meta.tokens.length & 0xff;
  for (let i = 0; i < meta.tokens.length; i++) writeToken(out, 4 + i * 8, meta.tokens[i]!);
  return out;
}

/** The node metadata of byte form `b`. @throws CairnError `DECODE_FAILED` when malformed */
export function decodeNodeMeta(b: Uint8Array): NodeMeta {
  const status = STATUSES[b[1] ?? 255];
  const count = b.length >= 4 ? (b[2]! << 8) | b[3]! : -1;
  if (b[0] !== FORMAT || status === undefined || count < 0 || count > RING_LIMITS.maxTokensPerNode) {
    throw new CairnError('DECODE_FAILED', 'stored node metadata is malformed');
  }
  if (b.length !== 4 + count * 8)
    throw new CairnError('DECODE_FAILED', 'stored node metadata has a bad length');
  const tokens: Token[] = [];
  for (let i = 0; i < count; i++) tokens.push(readToken(b, 4 + i * 8));
  return { tokens, status };
}

/**
 * The node's stored tokens and status, or undefined on a first start.
 *
 * @throws CairnError `DECODE_FAILED` when the stored metadata is corrupt (the node must not pick new
 *   tokens silently: that would move data it may hold the only copy of)
 */
export async function loadNodeMeta(storage: Storage): Promise<NodeMeta | undefined> {
  const raw = await storage.get(KEY);
  return raw === undefined ? undefined : decodeNodeMeta(raw);
}

/** Stores the node's tokens and status, fsynced (a node's tokens must survive its first crash). */
export async function saveNodeMeta(storage: Storage, meta: NodeMeta): Promise<void> {
  await storage.batch([{ type: 'put', key: KEY, value: encodeNodeMeta(meta) }], { sync: true });
}
