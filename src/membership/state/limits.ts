import { withLimits } from '../../core/limits.js';

/*
 * Hard limits of the Scuttlebutt state core. A decoded message or record over one of them is
 * malformed and dropped (counted); a local call over one throws `LIMIT_EXCEEDED`. A
 * `StateConfig` may tighten the per-node ones (keys, key and value sizes) but never raise them
 * past these bounds.
 */
const defaults = {
  /** Nodes whose state one node keeps: a 10,000-node cluster with room for churn (generations replace, not add). */
  maxNodes: 16_384,
  /** Keys (tombstones included) one node may own: a node's state is metadata, not a database. */
  maxKeysPerNode: 4096,
  /** UTF-8 bytes of one key: keys are names, and each record carries its key. */
  maxKeyBytes: 512,
  /** Bytes of one value (UTF-8 for strings): a record must fit in one stream frame with its signature. */
  maxValueBytes: 60 * 1024,
  /** Records (kv and heartbeat) in one delta: a 1 MB stream exchange of small records stays under it. */
  maxDeltaRecords: 16_384,
  /** Node sections in one delta, and entries in one digest: one per node the peer may know. */
  maxDigestEntries: 16_384,
  /** Largest encoded Syn/SynAck/Ack accepted, in bytes: the push-pull stream exchange at join is the biggest. */
  maxMessageBytes: 4 * 1024 * 1024,
  /** Nodes remembered as "a peer is ahead of us" for digest priority: bounded like the node map. */
  maxWantedNodes: 16_384,
  /**
   * Bytes of every record kept (payload and signature, all nodes): 4 KiB of metadata for each of
   * 16,384 nodes. Without it minted members could each fill `maxKeysPerNode` values.
   */
  maxStateBytes: 64 * 1024 * 1024,
};

/** The state core's hard limits; see each field. Frozen. */
export const DEFAULT_LIMITS: StateLimits = Object.freeze(defaults);

/** The state limits, each a number (overrides need not equal the defaults' literal types). */
export type StateLimits = { readonly [K in keyof typeof defaults]: number };

/**
 * {@link DEFAULT_LIMITS} with `overrides` applied.
 *
 * @throws CairnError `INVALID_CONFIG` for an unknown name or a non-positive value
 */
export function stateLimits(overrides: Partial<StateLimits> = {}): StateLimits {
  return withLimits<StateLimits>(DEFAULT_LIMITS, overrides);
}
