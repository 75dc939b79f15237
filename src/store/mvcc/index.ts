/**
 * The store's MVCC state machine: key index, revision records, txns, compaction, watch hub,
 * leases and snapshot images.
 */
export { checkCommand, checkIntervals, checkTxn } from './checks.js';
export { KeyIndex, TreeIndex } from './key-index.js';
export { type LeaseInfo, Lessor, type LessorOptions } from './lessor.js';
export { DEFAULT_LIMITS, MAX_LEASE_TTL_SECONDS, type MvccLimits } from './limits.js';
export { type MvccOptions, MvccStore, type StoreResult } from './mvcc-store.js';
export { COMPACTED_REASON, type HubWatch, type WatchConsumer, WatchHub } from './watch-hub.js';
