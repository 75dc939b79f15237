import type { StateValue } from '../../membership/types.js';
import type { RingNode } from '../types.js';
import { decodeChunked, encodeAdvertPayload, encodeChunked, parseAdvertPayload } from './advert.js';
import { RING_LIMITS } from './ring.js';

/**
 * Ghosts: the ring entries of nodes that are not up, as live nodes repeat them in membership state.
 *
 * Membership keeps and exchanges the state of live members only: a node that starts (or restarts)
 * while another is down never learns the down node's advert, and every node forgets it once
 * membership reaps the member (a day after its death in the LAN preset). Its ranges would then move
 * to other nodes without any data being streamed to them, and nodes that learned the ring at
 * different times would disagree on who replicates what. Cassandra avoids this because its gossip
 * keeps the state of down nodes that own tokens until `removenode` or `assassinate`; here each
 * node on the ring repeats the adverts of the ring nodes it does not see up, under its own state
 * keys `kv.g<i>.<chunk>` (one ghost per slot `i`, chunked as adverts are), and a node that has no
 * advert of its own for a member takes the ghost.
 *
 * Payload of one ghost: format (1 byte, 1), name length (1 byte, 1 to 255), chunk count (1 byte),
 * the node's name (UTF-8), then the node's advert payload (`advert.ts`, its chunk count byte 1).
 */

/** Limits of ghost announcements. */
export const GHOST_LIMITS = Object.freeze({
  /**
   * Ghosts one node announces at once: each is up to six state keys (256 tokens) that every node
   * stores and reads on every change. More nodes down at once than this are past what a ring of rf
   * 3 survives anyway; the others are left out (and logged).
   */
  maxGhosts: 8,
  /** Bytes of a ghost's node name (one length byte). */
  maxNameBytes: Math.min(255, RING_LIMITS.maxNameBytes),
});

const FORMAT = 1;
const HEADER = 3;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The state key prefix of ghost slot `i`. */
export function ghostPrefix(i: number): string {
  return `kv.g${i}.`;
}

/**
 * The state values announcing `ghosts` (one slot each, in order).
 *
 * @throws RangeError for more than GHOST_LIMITS.maxGhosts ghosts, a name of 0 or more than 255
 *   bytes, or an advert encodeRingAdvert refuses (a caller's bug: ghosts repeat decoded adverts)
 */
export function encodeGhosts(ghosts: readonly RingNode[]): Map<string, Uint8Array> {
  if (ghosts.length > GHOST_LIMITS.maxGhosts) throw new RangeError('too many ghosts to announce');
  const out = new Map<string, Uint8Array>();
  ghosts.forEach((g, i) => {
    const name = encoder.encode(g.name);
    if (name.length === 0 || name.length > GHOST_LIMITS.maxNameBytes)
      throw new RangeError(`a ghost's name must be 1 to ${GHOST_LIMITS.maxNameBytes} bytes`);
    const advert = encodeAdvertPayload(g);
    advert[2] = 1;
    const payload = new Uint8Array(HEADER + name.length + advert.length);
    payload[0] = FORMAT;
    payload[1] = name.length;
    payload.set(name, HEADER);
    payload.set(advert, HEADER + name.length);
    for (const [key, value] of encodeChunked(ghostPrefix(i), payload)) out.set(key, value);
  });
  return out;
}

/** The ghost in slot `i` of a member's state, or undefined when absent, torn or malformed. Never throws. */
export function decodeGhost(
  values: (key: string) => StateValue | undefined,
  i: number,
): RingNode | undefined {
  const payload = decodeChunked(values, ghostPrefix(i));
  if (payload === undefined || payload.length < HEADER || payload[0] !== FORMAT) return undefined;
  const nameLength = payload[1]!;
  if (nameLength === 0 || payload.length < HEADER + nameLength) return undefined;
  try {
    const name = decoder.decode(payload.subarray(HEADER, HEADER + nameLength));
    const advert = parseAdvertPayload(payload.subarray(HEADER + nameLength), 1);
    if (advert === undefined || advert.tokens.length === 0) return undefined;
    return { ...advert, name };
  } catch {
    return undefined;
  }
}

/** Every well-formed ghost a member announces. Malformed slots are skipped. Never throws. */
export function decodeGhosts(values: (key: string) => StateValue | undefined): RingNode[] {
  const out: RingNode[] = [];
  for (let i = 0; i < GHOST_LIMITS.maxGhosts; i++) {
    const g = decodeGhost(values, i);
    if (g !== undefined) out.push(g);
  }
  return out;
}
