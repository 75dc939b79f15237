import type { NodeId } from '../../security/index.js';

const TWO_32 = 0x1_0000_0000;

/**
 * The 53-bit key of a node id: two 32-bit multiplicative hashes of its characters (an FNV-1a lane
 * and a murmur-style lane), 21 bits of the first and all 32 of the second.
 *
 * Used where a member is looked up or compared many times: push-pull summaries carry it instead of
 * the id (`../sync/summary.ts`), and the member table's index mixes it with a per-table seed
 * (`slot-index.ts`). An opened alive record carries its node's key (`VerifiedAlive.key`), computed
 * once per distinct record in the process, so the hot paths never hash an id string.
 *
 * Collisions: ids are public keys, which nobody can pick freely; two ids share a key with
 * probability 2^-53, and a shared key costs a slower lookup or one record skipped by one summary
 * exchange, never a wrong answer (both users compare the ids or the records).
 */
export function memberKey(id: NodeId): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 11) * TWO_32 + (b >>> 0);
}

/**
 * A 32-bit cell hash of a 53-bit key (or any non-negative safe integer) under `seed`: murmur3's
 * finalizer over the low word xor the seed, with the high word folded in between. Hash tables of
 * keys that others choose (the member index, a peer's summary) draw the seed at random, so nobody
 * can aim keys at one probe run without making whole keys equal.
 */
export function seededKeyHash(key: number, seed: number): number {
  let h = (key >>> 0) ^ seed;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= Math.floor(key / TWO_32) | 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
