/**
 * Limits of the raft driver ({@link RaftNode}). Every queue, map and buffer the driver keeps is
 * bounded by one of these; going over is an explicit rejection (a `PROPOSAL_DROPPED` for local
 * callers, a dropped and counted message or a closed stream for peers), never unbounded growth.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /** Messages queued for one peer while its stream is down or slow: past it they are dropped and the core told the peer is unreachable, as etcd's 4,096-message stream buffer. */
  maxPeerQueueMessages: 4096,
  /** Bytes queued for one peer (entries included): one slow follower cannot hold more than 64 MiB of the leader's memory. */
  maxPeerQueueBytes: 64 * 1024 * 1024,
  /** Messages in one frame: bounds the decoded size of one batch. */
  maxMessagesPerFrame: 4096,
  /** Entries in one message on the wire (the core's own per-message bound is 100,000). */
  maxEntriesPerMessage: 100_000,
  /** Bytes of one entry's data: a command or a conf change; the store's request limit is far below. */
  maxEntryBytes: 16 * 1024 * 1024,
  /** Bytes of a message's context (read-index request ids, campaign kind); the core's is 1 KiB. */
  maxContextBytes: 1024,
  /** Bytes of one message frame: the transport's frame limit, which the codec's decode limit matches. */
  maxFrameBytes: 16 * 1024 * 1024,
  /** Bytes of snapshot data in one chunk frame: small enough to interleave, large enough to be cheap. */
  snapshotChunkBytes: 256 * 1024,
  /** Bytes of one snapshot being received: the largest state machine image a node accepts. */
  maxSnapshotBytes: 1024 * 1024 * 1024,
  /** Snapshots being received at once: each holds up to maxSnapshotBytes. */
  maxInboundSnapshots: 2,
  /** A snapshot transfer that has not finished in this many ms is abandoned (both sides). */
  snapshotTimeoutMs: 120_000,
  /** Proposals handed to the core as one request (their bytes are bounded by the core's maxSizePerMsg): one append for a loop turn's proposals, yet a bounded one. */
  maxProposalsPerBatch: 4096,
  /** Read-index callers waiting (all batches together): beyond it readIndex rejects at once. */
  maxPendingReads: 10_000,
  /** Read-index requests in flight to the core at once: 1, as etcd, so every reader arriving during a heartbeat round joins the next batch. */
  maxReadBatchesInFlight: 1,
  /** A read-index request the leader did not answer within this many ms is retried (the core drops it silently without a leader). */
  readRetryMs: 500,
  /** Conf changes waiting to be applied locally (and leadership transfers waiting): one at a time is the rule, a few callers may race. */
  maxPendingConfChanges: 16,
  /** A conf change or leadership transfer not done within this many ms is rejected with TIMEOUT (a forwarded one can be lost). */
  requestTimeoutMs: 30_000,
  /** Inbound message streams accepted at once (one per peer, plus a margin for restarts). */
  maxInboundStreams: 256,
  /** An inbound stream must send its hello within this many ms, or it is closed: a silent stream holds a slot. */
  helloTimeoutMs: 10_000,
  /** Status listeners: bounds what a leak of subscriptions can cost. */
  maxStatusListeners: 1024,
});

/** The driver's limits; see {@link DEFAULT_LIMITS}. */
export type RaftNodeLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };
