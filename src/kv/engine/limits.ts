/** The engine's bounds; see {@link ENGINE_LIMITS} for each one's reason. */
export type EngineLimits = {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxPendingWrites: number;
  readonly maxGroupWrites: number;
  readonly maxScanLimit: number;
  readonly maxMerkleDepth: number;
  readonly maxHintTargets: number;
  readonly versionCacheEntries: number;
  readonly versionCacheKeyBytes: number;
  readonly keyFilterBits: number;
};

/** Bounds of the storage engine (replica store, Merkle trees, hints). */
export const ENGINE_LIMITS: EngineLimits = Object.freeze({
  /** Bytes of a key: Cassandra's partition key limit; a key is repeated in every index entry. */
  maxKeyBytes: 64 * 1024,
  /**
   * Bytes of a value: a write travels in one rpc payload (4 MiB) with its key and peers; Cassandra
   * warns above 1 MiB for the same reason (a cell is read and rewritten whole).
   */
  maxValueBytes: 1024 * 1024,
  /** Writes waiting to be merged and stored: past this, apply rejects (the disk is not keeping up). */
  maxPendingWrites: 100_000,
  /** Writes in one storage batch (one group commit): bounds the batch's memory and latency. */
  maxGroupWrites: 1_000,
  /** Entries one scan page may ask for: a page is held in memory and sent in one message. */
  maxScanLimit: 10_000,
  /** Depth of a Merkle tree: 2^16 leaves of 16 bytes is a 1 MiB tree, within one rpc payload. */
  maxMerkleDepth: 16,
  /** Hint targets: more distinct down nodes than this is not a cluster we serve. */
  maxHintTargets: 1_024,
  /**
   * Keys whose stored version the replica store remembers, so a newer write skips the read before
   * its merge (the largest cost of a write on a replica: a LevelDB read that misses the memtable
   * costs about 15 µs of CPU): 2^18 slots of 48 bytes with the keys, 12 MiB per store, made on the
   * first write. Sets of eight keep a working set of up to about 200,000 keys nearly whole (2^17
   * slots in sets of four missed 8 % of a 100,000-key working set, by set overflow alone).
   */
  versionCacheEntries: 1 << 18,
  /** Longest key the version cache holds: each slot reserves this many bytes for its key. */
  versionCacheKeyBytes: 32,
  /**
   * Largest filter of the keys a replica store holds (`StoredKeys`), in bits: 2^27, 16 MiB, about
   * 13 million keys at 1 % false positives; past that it keeps filling and its false positives
   * rise (each one only costs the read the filter saves otherwise). Below 32 (say 1): no filter.
   */
  keyFilterBits: 2 ** 27,
});
