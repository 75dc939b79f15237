import { CairnError } from '../../core/index.js';
import { ENGINE_LIMITS } from '../engine/limits.js';
import { CONSISTENCY_LEVELS, type Consistency } from '../types.js';

/**
 * The cluster layer's configuration (one typed config, memberlist style) and its limits.
 */

/** Configuration of a {@link KvNode}; every field has a default in {@link DEFAULT_KV_CONFIG}. */
export interface KvConfig {
  /** Replication factor: copies of every key. Default 3 (Cassandra's usual). More survives more failures, costs more writes. */
  readonly rf: number;
  /** Tokens (virtual nodes) per node. Default 16 (Cassandra 4's `num_tokens`): more tokens spread load and streaming more evenly, at a larger ring. */
  readonly tokensPerNode: number;
  /** Consistency of reads that name none. Default QUORUM. */
  readonly readConsistency: Consistency;
  /** Consistency of writes that name none. Default QUORUM. */
  readonly writeConsistency: Consistency;
  /** A write fails with TIMEOUT when too few replicas acknowledged within this many ms. Default 2,000 (Cassandra's `write_request_timeout`). */
  readonly writeTimeoutMs: number;
  /** A read fails with TIMEOUT after this many ms. Default 5,000 (Cassandra's `read_request_timeout`). */
  readonly readTimeoutMs: number;
  /** A read asks the remaining live replicas when the first `required` have not all answered within this many ms. Default 100 (Cassandra retries at the 99th percentile of its read latency): lower cuts tail latency under a slow replica, costs more requests. */
  readonly speculativeRetryMs: number;
  /** Hints are kept for a replica down at most this long (ms); older writes are left to anti-entropy. Default 3 h (Cassandra's `max_hint_window`). */
  readonly hintWindowMs: number;
  /** Bytes of hints kept per target; over it hints are dropped (and counted). Default 64 MiB. */
  readonly hintMaxBytesPerTarget: number;
  /** How often hints are offered to targets membership shows alive, in ms (also on every membership change). Default 10,000. */
  readonly hintReplayIntervalMs: number;
  /** Tombstones and expired cells are purged once older than this (ms). Repair must run within it, or deletes can come back. Default 10 days (Cassandra's `gc_grace_seconds`). */
  readonly gcGraceMs: number;
  /** Period of anti-entropy rounds (Merkle exchange per replicated range), in ms; 0 disables. Default 10 min: shorter finds divergence sooner, costs a tree per range per round. */
  readonly antiEntropyIntervalMs: number;
  /** Depth of anti-entropy Merkle trees: 2^depth leaves per range. Default 10: finer leaves stream less on a difference, cost more to build and send. */
  readonly merkleDepth: number;
  /** Largest clock offset from peers tolerated, in ms (readings further ahead are refused; a node off by more from most peers refuses to coordinate). Default 500 (CockroachDB's `max-offset`). */
  readonly maxClockOffsetMs: number;
  /** Peers' clock readings older than this (ms) no longer count toward the skew verdict. Default 60,000. */
  readonly clockReadingTtlMs: number;
  /** Wait after publishing a ring status change (joining, leaving) before streaming, so every coordinator sees it and sends writes to the pending replica. Default 30,000 (Cassandra's RING_DELAY); tests shorten it. */
  readonly ringDelayMs: number;
  /** Entries per streaming, repair and hint page. Default 512. */
  readonly streamPageEntries: number;
  /** fsync each storage batch (true) or let the OS flush (false: faster writes, but an acknowledged write can vanish in a power loss on every replica at once). Default true. */
  readonly sync: boolean;
  /**
   * Names of seed nodes: a seed starts `normal` on its first start without streaming, even when it
   * sees other kv nodes (Cassandra's seeds do not bootstrap). List the nodes of a new cluster here
   * so they can start in any order; a node added later is not a seed and joins. Default none.
   */
  readonly seeds: readonly string[];
}

/** The defaults; see each field of {@link KvConfig}. */
export const DEFAULT_KV_CONFIG: KvConfig = Object.freeze({
  rf: 3,
  tokensPerNode: 16,
  readConsistency: 'QUORUM',
  writeConsistency: 'QUORUM',
  writeTimeoutMs: 2_000,
  readTimeoutMs: 5_000,
  speculativeRetryMs: 100,
  hintWindowMs: 3 * 3600_000,
  hintMaxBytesPerTarget: 64 * 1024 * 1024,
  hintReplayIntervalMs: 10_000,
  gcGraceMs: 10 * 24 * 3600_000,
  antiEntropyIntervalMs: 10 * 60_000,
  merkleDepth: 10,
  maxClockOffsetMs: 500,
  clockReadingTtlMs: 60_000,
  ringDelayMs: 30_000,
  streamPageEntries: 512,
  sync: true,
  seeds: Object.freeze([]) as readonly string[],
});

/** A config for tests on the simulator: short ring delay, frequent replay. */
export function testKvConfig(overrides: Partial<KvConfig> = {}): KvConfig {
  return validateKvConfig({
    ...DEFAULT_KV_CONFIG,
    ringDelayMs: 500,
    hintReplayIntervalMs: 1_000,
    antiEntropyIntervalMs: 0,
    merkleDepth: 6,
    streamPageEntries: 64,
    ...overrides,
  });
}

/** Limits of the cluster layer (every wire message is bounded by them). */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest key, in bytes: the replica store's (Cassandra's partition key limit, 64 KiB). */
  maxKeyBytes: ENGINE_LIMITS.maxKeyBytes,
  /** Largest value, in bytes: the replica store's, so a write the coordinator accepts every replica stores. */
  maxValueBytes: ENGINE_LIMITS.maxValueBytes,
  /** Cells in one write, stream or hint message: bounds a handler's batch. */
  maxCellsPerMessage: 1024,
  /**
   * Bytes of the cells of one `kv.writeCells` (binary): a batch's keys and values (maxBatchedBytes,
   * or one value up to maxValueBytes with its key) plus 35 bytes of framing per cell, inside the rpc
   * payload limit (4 MiB).
   */
  maxWriteCellsBytes: 3 * 1024 * 1024,
  /**
   * Bytes of the keys of one `kv.readCells` (binary): a batch's keys (maxBatchedBytes, or one key
   * up to maxKeyBytes) plus 5 bytes per key, and of its answers: the cells, digests and error texts
   * of up to maxBatchedCalls keys. Inside the rpc payload limit (4 MiB); a larger answer (large
   * values) fails the batch in the rpc layer, as a MessagePack one would.
   */
  maxReadCellsBytes: 4 * 1024 * 1024 - 64 * 1024,
  /** Entries a scan page may ask for: bounds a reply. */
  maxScanLimit: 4096,
  /** Encoded bytes of a Merkle tree on the wire (2^16 leaves of 32 bytes, plus inner nodes). */
  maxMerkleBytes: 4 * 1024 * 1024,
  /** Deepest Merkle tree asked for: 2^16 leaves per range. */
  maxMerkleDepth: 16,
  /** Length of a node name on the wire (membership's bound). */
  maxNameLength: 256,
  /** Ranges one scan page visits before answering (a sparse ring answers short pages instead of walking it all). */
  maxRangesPerScanPage: 64,
  /** Tokens per node (the advert must fit membership's state limits). */
  maxTokensPerNode: 256,
  /** Replication factor. */
  maxRf: 15,
  /** Concurrent background hint deliveries: one per target, up to this many targets. */
  maxHintReplays: 16,
  /**
   * Calls in flight from this node to one replica (the rest wait for a slot until their deadline):
   * below the rpc channel's own 256, so that overload queues here instead of failing there, with
   * room left on the channel for hints, anti-entropy and streaming.
   */
  maxCallsInFlightPerReplica: 192,
  /**
   * Calls to one replica carried by one batched message (writes of one kind, or reads): amortizes
   * the rpc, frame and socket write over many client requests; bounds the replica's work per
   * message (at most maxCellsPerMessage).
   */
  maxBatchedCalls: 256,
  /**
   * Bytes of keys and values in one batched message (one item larger than this travels alone):
   * a batch stays well inside the rpc payload limit (4 MiB) with the largest value (1 MiB).
   */
  maxBatchedBytes: 1024 * 1024,
  /**
   * Batching windows (event-loop turns in the agent) a batch of calls to one replica gathers for:
   * two carry about 1.6 times the writes of one per message under load (17 against 11 at three
   * nodes, 50 clients; reads gather likewise), so fewer messages, frames and wake-ups per request
   * on every node, for one more turn of latency (microseconds when the loop is idle). Three
   * against two, paired rounds at three nodes (50 clients): 7-8 % fewer servers' CPU per SET and
   * 6-8 % more SETs per second (a replica spends much of its time woken per message: epoll, the
   * thread pool's futex and its completion); four was no better than three.
   */
  batchWindows: 3,
  /** Calls waiting for a slot to one replica; past it a call fails as overloaded (memory bound). */
  maxCallsWaitingPerReplica: 20_000,
  /**
   * Longest wait between two attempts of a join that failed (the wait doubles from one second):
   * a joining node keeps trying until it is in, since it already takes writes as a pending
   * replica and only a completed join makes it a full one.
   */
  maxJoinRetryDelayMs: 30_000,
});

/** The type of {@link DEFAULT_LIMITS}. */
export type KvClusterLimits = typeof DEFAULT_LIMITS;

function positive(name: string, value: number, integer = true): void {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new CairnError(
      'INVALID_CONFIG',
      `kv config ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`,
    );
  }
}

/**
 * Checks a config, naming the bad field.
 *
 * @throws CairnError `INVALID_CONFIG`
 */
export function validateKvConfig(config: KvConfig): KvConfig {
  positive('rf', config.rf);
  if (config.rf > DEFAULT_LIMITS.maxRf)
    throw new CairnError(
      'INVALID_CONFIG',
      `kv config rf must be at most ${DEFAULT_LIMITS.maxRf}, got ${config.rf}`,
    );
  positive('tokensPerNode', config.tokensPerNode);
  if (config.tokensPerNode > DEFAULT_LIMITS.maxTokensPerNode) {
    throw new CairnError(
      'INVALID_CONFIG',
      `kv config tokensPerNode must be at most ${DEFAULT_LIMITS.maxTokensPerNode}, got ${config.tokensPerNode}`,
    );
  }
  for (const name of ['readConsistency', 'writeConsistency'] as const) {
    if (!CONSISTENCY_LEVELS.includes(config[name]))
      throw new CairnError(
        'INVALID_CONFIG',
        `kv config ${name} must be ONE, QUORUM or ALL, got ${config[name]}`,
      );
  }
  for (const name of [
    'writeTimeoutMs',
    'readTimeoutMs',
    'speculativeRetryMs',
    'hintWindowMs',
    'hintMaxBytesPerTarget',
    'hintReplayIntervalMs',
    'gcGraceMs',
    'maxClockOffsetMs',
    'clockReadingTtlMs',
    'streamPageEntries',
  ] as const) {
    positive(name, config[name]);
  }
  if (config.streamPageEntries > DEFAULT_LIMITS.maxScanLimit) {
    throw new CairnError(
      'INVALID_CONFIG',
      `kv config streamPageEntries must be at most ${DEFAULT_LIMITS.maxScanLimit}`,
    );
  }
  if (config.streamPageEntries > DEFAULT_LIMITS.maxCellsPerMessage) {
    throw new CairnError(
      'INVALID_CONFIG',
      `kv config streamPageEntries must be at most ${DEFAULT_LIMITS.maxCellsPerMessage}`,
    );
  }
  if (!(config.antiEntropyIntervalMs >= 0))
    throw new CairnError('INVALID_CONFIG', 'kv config antiEntropyIntervalMs must be >= 0');
  if (!(config.ringDelayMs >= 0))
    throw new CairnError('INVALID_CONFIG', 'kv config ringDelayMs must be >= 0');
  if (
    !Number.isInteger(config.merkleDepth) ||
    config.merkleDepth < 0 ||
    config.merkleDepth > DEFAULT_LIMITS.maxMerkleDepth
  ) {
    throw new CairnError(
      'INVALID_CONFIG',
      `kv config merkleDepth must be an integer in [0, ${DEFAULT_LIMITS.maxMerkleDepth}]`,
    );
  }
  if (typeof config.sync !== 'boolean')
    throw new CairnError('INVALID_CONFIG', 'kv config sync must be a boolean');
  if (!Array.isArray(config.seeds))
    throw new CairnError('INVALID_CONFIG', 'kv config seeds must be a list of names');
  return config;
}
