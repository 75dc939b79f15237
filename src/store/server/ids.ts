import { assert, sha256 } from '../../core/index.js';

/**
 * Cluster, member and request ids. etcd derives them from SHA-1 digests truncated to 64 bits;
 * Cairn keeps every id below 2^53 (see src/store/api.ts), so it takes 53 bits of a SHA-256
 * digest instead. An id is never 0 (0 means "none" in raft and etcd).
 */

const TWO_POW_21 = 2 ** 21;

/** The first 53 bits of `digest` as a positive integer (1 when they are all zero). */
function first53(digest: Uint8Array): number {
  assert(digest.length >= 7, 'a digest of at least 7 bytes');
  // 32 bits, then 21 more: 53 bits, exactly representable.
  const hi = ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
  const lo = ((digest[4]! << 13) | (digest[5]! << 5) | (digest[6]! >>> 3)) >>> 0;
  const id = hi * TWO_POW_21 + lo;
  return id === 0 ? 1 : id;
}

/**
 * The cluster id: a digest of the bootstrap members' ids in ascending order (etcd hashes the
 * sorted member ids, and the cluster name), so every bootstrap member computes the same one.
 *
 * @param memberIds - the bootstrap voters (any order)
 * @param clusterName - the cluster's name (etcd's --initial-cluster-token); default 'cairn'
 * @example
 * ```ts
 * clusterIdOf([3, 1, 2]) === clusterIdOf([1, 2, 3]); // true
 * ```
 */
export function clusterIdOf(memberIds: readonly number[], clusterName = 'cairn'): number {
  const sorted = [...memberIds].sort((a, b) => a - b);
  return first53(sha256(`${sorted.join(',')}/${clusterName}`));
}

/**
 * A new member's id, as etcd's NewMember: a digest of its sorted peer URLs, the cluster name and
 * the time, so adding the same URLs again later gives another id.
 *
 * @param peerUrls - the member's peer URLs
 * @param clusterName - the cluster's name
 * @param nowMs - the time of the request (the leader's clock)
 */
export function memberIdOf(peerUrls: readonly string[], clusterName: string, nowMs: number): number {
  const sorted = [...peerUrls].sort();
  return first53(sha256(`${sorted.join('')}${clusterName}${Math.floor(nowMs / 1000)}`));
}

/** Low bits of a request id that count requests; the bits above hold the member's prefix. */
const COUNTER_BITS = 37;
const COUNTER_SPAN = 2 ** COUNTER_BITS;
const PREFIX_SPAN = 2 ** (53 - COUNTER_BITS);

/**
 * Request ids unique across the cluster, as etcd's idutil.Generator: 16 bits from the member id,
 * then a 37-bit counter that starts from the clock (ms, shifted by 8 bits) so a restarted member
 * does not reuse the ids of entries it proposed before the restart and that may still be in the
 * log. Never 0.
 */
export class RequestIds {
  private readonly prefix: number;
  private counter: number;

  /**
   * @param memberId - this member's id
   * @param nowMs - the clock at start
   */
  constructor(memberId: number, nowMs: number) {
    this.prefix = (first53(sha256(`member/${memberId}`)) % PREFIX_SPAN) * COUNTER_SPAN;
    this.counter = (Math.floor(nowMs) * 256) % COUNTER_SPAN;
  }

  /** The next id. */
  next(): number {
    this.counter = (this.counter + 1) % COUNTER_SPAN;
    if (this.counter === 0) this.counter = 1;
    return this.prefix + this.counter;
  }
}
