/**
 * `cairn/kv`: the partitioned store.
 *
 * @packageDocumentation
 */

// kv-cluster: replicas, coordinator, repair, streaming, KvNode
export {
  DEFAULT_KV_CONFIG,
  DEFAULT_LIMITS as KV_CLUSTER_LIMITS,
  type KvClusterLimits,
  type KvConfig,
  testKvConfig,
  validateKvConfig,
} from './cluster/config.js';
export type { StreamProgress } from './cluster/elastic.js';
export { KvNode, type KvNodeOptions, type KvNodeRingStatus, type KvNodeStatus } from './cluster/kv-node.js';
export type { KvMember, KvMembershipView } from './cluster/ring-tracker.js';
export {
  cellProblem,
  decodeCell,
  deletionTime,
  encodeCell,
  isLive,
  isPurgeable,
  mergeCells,
  sameCell,
} from './engine/cell.js';
export {
  DEFAULT_HINT_WINDOW_MS,
  DEFAULT_MAX_HINT_BYTES_PER_TARGET,
  type Hint,
  HintStore,
  type HintStoreOptions,
  type HintStoreStats,
} from './engine/hints.js';
export { DATA_PREFIX, dataKey, HINT_PREFIX, META_PREFIX, metaKey, parseDataKey } from './engine/layout.js';
export { ENGINE_LIMITS, type EngineLimits } from './engine/limits.js';
export { cellDigest, MERKLE_HASH_BYTES, MerkleBuilder, MerkleTree } from './engine/merkle.js';
export {
  decodeNodeMeta,
  encodeNodeMeta,
  loadNodeMeta,
  type NodeMeta,
  saveNodeMeta,
} from './engine/node-meta.js';
export {
  DEFAULT_GC_GRACE_MS,
  ReplicaStore,
  type ReplicaStoreOptions,
  type ReplicaStoreStats,
  type ScanEntry,
  type ScanPosition,
} from './engine/replica-store.js';
export * from './errors.js';
// kv-store: hybrid clock, ring, partitioner, ring adverts
export {
  DEFAULT_MAX_CLOCK_OFFSET_MS,
  HybridClock,
  type HybridClockOptions,
  isVersion,
  MAX_LOGICAL,
  nodeTag,
} from './hlc.js';
export {
  MEMORY_KV_LIMITS,
  MemoryKv,
  type MemoryKvLimits,
  type MemoryKvOptions,
  memoryToken,
} from './memory-kv.js';
export {
  RESP_AUDIENCE,
  RESP_LIMITS,
  type RespAuthOptions,
  type RespLimits,
  type RespServer,
  type RespServerOptions,
  type RespStats,
  serveResp,
} from './resp/index.js';
export { ADVERT_LIMITS, decodeRingAdvert, encodeRingAdvert, RING_STATE_PREFIX } from './ring/advert.js';
export {
  inTokenRange,
  isToken,
  isTokenRange,
  isWholeRing,
  MAX_TOKEN,
  MIN_TOKEN,
  RING_SIZE,
  rangeWidth,
  readToken,
  tokenBytes,
  tokenOf,
  writeToken,
} from './ring/partitioner.js';
export { RING_LIMITS, Ring, type RingLimits, randomTokens } from './ring/ring.js';
export * from './types.js';
