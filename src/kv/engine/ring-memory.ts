import { CairnError, type Storage } from '../../core/index.js';
import { encodeAdvertPayload, parseAdvertPayload } from '../ring/advert.js';
import { RING_LIMITS } from '../ring/ring.js';
import type { RingNode } from '../types.js';
import { metaKey } from './layout.js';

/**
 * The other nodes of the ring as this node last knew them, kept in its `Storage` beside its cells
 * (Cassandra's `system.peers`): a node that restarts while it reaches no one (or before
 * membership has brought it anything) places keys on the ring it knew rather than on a ring of
 * itself alone. See the ring tracker for how the memory is used and forgotten.
 *
 * Byte form: format (1 byte, 1), entry count (2 bytes, big-endian), then per entry: name length
 * (1 byte, 1 to 255), name (UTF-8), advert payload length (2 bytes), advert payload (`advert.ts`,
 * its chunk count byte 1).
 */

const KEY = metaKey('ring');
const FORMAT = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The byte form of `nodes`. @throws CairnError `INVALID_ARGUMENT` for more than maxNodes entries or a bad entry */
export function encodeRingMemory(nodes: readonly RingNode[]): Uint8Array {
  if (nodes.length > RING_LIMITS.maxNodes)
    throw new CairnError('INVALID_ARGUMENT', `a ring memory holds at most ${RING_LIMITS.maxNodes} nodes`);
  const parts: Uint8Array[] = [];
  let size = 3;
  for (const n of nodes) {
    const name = encoder.encode(n.name);
    if (name.length === 0 || name.length > 255)
      throw new CairnError('INVALID_ARGUMENT', 'a remembered node name must be 1 to 255 bytes');
    let advert: Uint8Array;
    try {
      advert = encodeAdvertPayload(n);
    } catch (err) {
      throw new CairnError('INVALID_ARGUMENT', `node ${n.name} cannot be remembered: ${String(err)}`);
    }
    advert[2] = 1;
    const head = Uint8Array.of(name.length);
    const len = Uint8Array.of(advert.length >>> 8, advert.length & 0xff);
    parts.push(head, name, len, advert);
    size += 1 + name.length + 2 + advert.length;
  }
  const out = new Uint8Array(size);
  out[0] = FORMAT;
  out[1] = nodes.length >>> 8;
  out[2] = nodes.length & 0xff;
  let off = 3;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The remembered nodes of byte form `b`. @throws CairnError `DECODE_FAILED` when malformed */
export function decodeRingMemory(b: Uint8Array): RingNode[] {
  const bad = (why: string) => new CairnError('DECODE_FAILED', `stored ring memory is malformed: ${why}`);
  if (b.length < 3 || b[0] !== FORMAT) throw bad('format');
  const count = (b[1]! << 8) | b[2]!;
  if (count > RING_LIMITS.maxNodes) throw bad('too many nodes');
  const out: RingNode[] = [];
  let off = 3;
  for (let i = 0; i < count; i++) {
    const nameLength = b[off] ?? 0;
    if (nameLength === 0 || off + 1 + nameLength + 2 > b.length) throw bad('truncated name');
    let name: string;
    try {
      name = decoder.decode(b.subarray(off + 1, off + 1 + nameLength));
    } catch {
      throw bad('a name is not UTF-8');
    }
    off += 1 + nameLength;
    const advertLength = (b[off]! << 8) | b[off + 1]!;
    off += 2;
    if (off + advertLength > b.length) throw bad('truncated advert');
    const advert = parseAdvertPayload(b.subarray(off, off + advertLength), 1);
    if (advert === undefined || advert.tokens.length === 0) throw bad(`the advert of ${name}`);
    off += advertLength;
    out.push({ ...advert, name });
  }
  if (off !== b.length) throw bad('trailing bytes');
  return out;
}

/**
 * The remembered ring, or an empty list when there is none or it is unreadable: the memory is a
 * cache of what membership tells, so a corrupt one is dropped, never a reason to refuse to start.
 */
export async function loadRingMemory(storage: Storage): Promise<RingNode[]> {
  const raw = await storage.get(KEY);
  if (raw === undefined) return [];
  try {
    return decodeRingMemory(raw);
  } catch {
    return [];
  }
}

/**
 * Stores the remembered ring, synced: it is written only when the ring's set of nodes changes
 * (rare), and a memory lost in a crash is exactly when a restarted node needs it.
 */
export async function saveRingMemory(storage: Storage, nodes: readonly RingNode[]): Promise<void> {
  await storage.batch([{ type: 'put', key: KEY, value: encodeRingMemory(nodes) }], { sync: true });
}
