/**
 * The partitioned store's shared types: what the storage engine, the cluster (coordinator and
 * replicas), the Redis front end and the client agree on.
 *
 * Model (Cassandra's, with Dynamo's vocabulary): keys are bytes; a key's token is a 64-bit hash of
 * it; a ring of virtual-node tokens assigns each token range to `rf` distinct nodes (its natural
 * replicas); any node coordinates a request and waits for as many replica answers as the request's
 * {@link Consistency} asks. Every write carries a {@link Version} made by the coordinator's hybrid
 * logical clock; replicas keep, per key, the {@link Cell} with the highest version (last write
 * wins). A delete writes a tombstone cell; an expired cell reads as a tombstone.
 */

/**
 * How many replicas must answer. ONE: one; QUORUM: floor(rf/2)+1; ALL: rf. Quorums are strict: a
 * hint stored for an unreachable replica never counts as its answer. With reads and writes both at
 * QUORUM (or any R+W > rf) a read sees every write acknowledged before it began.
 */
export type Consistency = 'ONE' | 'QUORUM' | 'ALL';

/** The consistency levels, in the order above. */
export const CONSISTENCY_LEVELS: readonly Consistency[] = Object.freeze(['ONE', 'QUORUM', 'ALL']);

/** Replicas `level` needs out of `rf`. */
export function requiredReplicas(level: Consistency, rf: number): number {
  switch (level) {
    case 'ONE':
      return 1;
    case 'QUORUM':
      return Math.floor(rf / 2) + 1;
    case 'ALL':
      return rf;
  }
}

/**
 * A write's version: the coordinator's hybrid logical clock reading plus a tie-break naming the
 * coordinator. Ordered by `wall`, then `logical`, then `node` (all unsigned); two different writes
 * never share a version, because one coordinator's clock never repeats a reading.
 */
export interface Version {
  /** Wall-clock milliseconds since the epoch (the HLC's physical part). */
  readonly wall: number;
  /** The HLC's logical counter, 0..0xffff. */
  readonly logical: number;
  /** The coordinator's tie-break: a uint32 derived from its node name (`nodeTag`). */
  readonly node: number;
}

/** Total order of versions: negative when `a` is older than `b`, 0 when equal. */
export function compareVersions(a: Version, b: Version): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}

/**
 * What a replica keeps for one key.
 *
 * - Live: `value` set and (`expiresAt` absent or in the future).
 * - Tombstone: `value` undefined (a delete). Its deletion time is `version.wall`.
 * - Expired: `value` set and `expiresAt` <= now. It reads as absent and is treated as a tombstone
 *   whose deletion time is `expiresAt`.
 * A tombstone (or expired cell) is purged once its deletion time is older than the grace period
 * (`gcGraceMs`); until then it shadows older versions everywhere it travels (read repair, hints,
 * anti-entropy, streaming), which is what keeps deletes from coming back.
 *
 * Merge (LWW): the cell with the higher version wins. Equal versions come from the same write, so
 * their contents are equal; should they differ anyway, the tombstone wins, then the later
 * `expiresAt`, then the greater value bytes, so every replica picks the same cell.
 */
export interface Cell {
  readonly version: Version;
  /** The value; undefined for a tombstone. */
  readonly value: Uint8Array | undefined;
  /** Wall-clock ms at which the value expires (TTL), absent for none. */
  readonly expiresAt?: number;
}

/** A 64-bit ring position, unsigned: 0 <= token < 2^64. */
export type Token = bigint;

/**
 * A token range `(start, end]`: tokens greater than `start` and at most `end`, wrapping past
 * 2^64-1 to 0 when `start >= end`. `start === end` is the whole ring (a ring of one token).
 */
export interface TokenRange {
  readonly start: Token;
  readonly end: Token;
}

/** A node's state on the ring. */
export type RingNodeStatus = 'joining' | 'normal' | 'leaving';

/** One node of the ring as membership shows it. */
export interface RingNode {
  /** The node's name (membership's). */
  readonly name: string;
  /** Its tokens (virtual nodes), unique on the ring. */
  readonly tokens: readonly Token[];
  readonly status: RingNodeStatus;
  /** Its Redis-protocol address `host:port`, when it serves one. */
  readonly resp?: string;
}

/** The ring as one node sees it, for `CAIRN RING`, `cairn kv ring` and client routing. */
export interface RingInfo {
  /** Replication factor. */
  readonly rf: number;
  readonly nodes: readonly RingNode[];
}

/** A live value as reads return it. */
export interface KvEntry {
  readonly value: Uint8Array;
  /** Wall-clock ms at which it expires; absent for none. */
  readonly expiresAt?: number;
}

/** Options of a read. */
export interface KvReadOptions {
  /** Default QUORUM. */
  readonly consistency?: Consistency;
  readonly signal?: AbortSignal;
}

/** Options of a write. */
export interface KvWriteOptions {
  /** Default QUORUM. */
  readonly consistency?: Consistency;
  /** Wall-clock ms at which the written value expires; absent for none. Ignored for deletes. */
  readonly expiresAt?: number;
  readonly signal?: AbortSignal;
}

/** One page of a scan. */
export interface KvScanPage {
  /** Live keys of the page, in token order. */
  readonly keys: Uint8Array[];
  /**
   * Where the next page starts; 0n when the scan is complete. Cursors are ring positions, not
   * offsets: a key present for the whole scan is returned at least once (Redis's SCAN promise).
   */
  readonly cursor: bigint;
}

/**
 * The partitioned store's operations, as the Redis front end, the client and the agent use them.
 * Implemented by the cluster node (`KvNode`, coordinating across replicas) and by an in-memory
 * single-node store for tests of the layers above.
 *
 * Errors: `KvError` (src/kv/errors.ts) with code `UNAVAILABLE` (too few replicas alive to try),
 * `TIMEOUT` (too few answered in time; the write may or may not have happened),
 * `CLOCK_SKEW` (this node's clock is too far from its peers' to coordinate), `INVALID_ARGUMENT`.
 */
export interface KvApi {
  /** The key's live value, or undefined (absent, deleted or expired). */
  get(key: Uint8Array, options?: KvReadOptions): Promise<KvEntry | undefined>;
  /** Writes `value` under a new version; `undefined` writes a tombstone (a delete). */
  put(key: Uint8Array, value: Uint8Array | undefined, options?: KvWriteOptions): Promise<void>;
  /**
   * Up to about `count` live keys from ring position `cursor` on (0n: from the start). May return
   * more or fewer than `count` (an empty page with a non-zero cursor is allowed).
   */
  scan(cursor: bigint, options: { count: number } & KvReadOptions): Promise<KvScanPage>;
  /** An estimate of the live keys in the cluster (DBSIZE). */
  approximateSize(): Promise<number>;
  /** The ring as this node sees it. */
  ring(): RingInfo;
}
