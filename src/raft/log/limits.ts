/**
 * Limits of the durable raft log. Override per store with `SegmentLogStore.open({ limits })`;
 * overrides go through core's `withLimits`, which rejects unknown names and non-positive values.
 */
export const DEFAULT_LIMITS: {
  readonly segmentBytes: number;
  readonly maxRecordBytes: number;
  readonly maxEntriesPerRecord: number;
  readonly maxQueuedSaves: number;
  readonly maxWriteBytes: number;
  readonly maxSnapshotBytes: number;
} = Object.freeze({
  /**
   * A segment rolls to a new file once it would grow past this: compaction removes whole segments,
   * so this is the granularity of reclaimed space, and recovery reads one segment at a time.
   */
  segmentBytes: 64 * 1024 * 1024,
  /**
   * Payload bytes of one record: a save's entries are split over several records below this, so
   * recovery never allocates more than this for one record and a rotted length field is caught.
   */
  maxRecordBytes: 64 * 1024 * 1024,
  /**
   * Entries in one record: each is three MessagePack values, and the core codec decodes at most
   * 2^20 values per message; 65,536 entries stay far below it.
   */
  maxEntriesPerRecord: 65_536,
  /**
   * Saves waiting for the write in flight: raft's driver issues one save per Ready, so a deep
   * queue means the disk has stalled; refusing (`LIMIT_EXCEEDED`) beats unbounded memory.
   */
  maxQueuedSaves: 65_536,
  /**
   * Bytes coalesced into one write and one sync: big enough to carry 1,000 concurrent small saves
   * in one group commit, small enough that one flush does not hold the queue for long.
   */
  maxWriteBytes: 16 * 1024 * 1024,
  /** Bytes of one snapshot file (the state machine image): bounds what recovery reads at once. */
  maxSnapshotBytes: 1024 * 1024 * 1024,
});

/** The type of {@link DEFAULT_LIMITS}. */
export type LogLimits = typeof DEFAULT_LIMITS;
