/**
 * The MVCC store's named limits. Every bound the store, its watch hub and its lessor enforce is
 * here, each with the reason for its default. Override with `withLimits(DEFAULT_LIMITS, {...})`.
 */
const LIMITS = {
  /** Operations in one compare/success/failure list of a txn: etcd's `--max-txn-ops` default. */
  maxTxnOps: 128,
  /** Storage operations in one batch: below the simulated disk's 100,000 and LevelDB's comfort. */
  maxBatchOps: 10_000,
  /**
   * Revision records held in memory, twice over: the latest records written (with their keys in
   * the index: the next put of a key and a read at the current revision need them) and, apart,
   * the records last read from Storage.
   */
  maxCachedRecords: 65_536,
  /** Live watchers in one hub: each costs a closure and a slot in the notify fan-out. */
  maxWatchers: 100_000,
  /** Revisions in one catch-up batch of an unsynced watcher: etcd's watchBatchMaxRevs. */
  maxCatchupRevisions: 1000,
  /** Bytes of events in one catch-up batch (a single larger revision still goes alone). */
  maxCatchupBytes: 1024 * 1024,
  /** Bytes of one snapshot image: it travels in raft snapshot messages and lives in memory whole. */
  maxSnapshotBytes: 512 * 1024 * 1024,
  /** Leases the lessor tracks: each costs a map entry and a slot in every expiry scan. */
  maxLeases: 1_000_000,
  /** Leases one `expired()` call returns: etcd revokes at most 1000 leases per second. */
  maxExpiredPerCall: 500,
  /** Checkpoints one `checkpoints()` call returns: etcd's maxLeaseCheckpointBatchSize. */
  maxCheckpointsPerCall: 1000,
};

/** The MVCC store's limits (see {@link DEFAULT_LIMITS}). */
export type MvccLimits = { readonly [K in keyof typeof LIMITS]: number };

/** The MVCC store's default limits, each with its reason above. */
export const DEFAULT_LIMITS: MvccLimits = Object.freeze(LIMITS);

/** etcd's largest lease TTL in seconds (`MaxLeaseTTL`); above it a grant fails with leaseTTLTooLarge. */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;
