/**
 * The store server's named limits and timeouts. Every queue, map and wait the server keeps is
 * bounded by one of these; over a limit is an explicit etcd error, never a silent drop.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest encoded request: etcd's --max-request-bytes default (1.5 MiB) keeps raft entries small. */
  maxRequestBytes: 1.5 * 1024 * 1024,
  /** Proposals of this member awaiting their apply: bounds waiter memory (etcd's maxGapBetweenApplyAndCommitIndex is 5,000). */
  maxPendingProposals: 5_000,
  /** Live watches on this member: each holds a hub slot and a buffer. */
  maxWatchers: 10_000,
  /** A write not applied by then fails: etcd's 5 s plus an election (7 s). */
  requestTimeoutMs: 7_000,
  /** How long a request waits for a leader before answering noLeader: about two election timeouts. */
  noLeaderWaitMs: 2_000,
  /** Pause between proposal retries while there is no leader or a proposal was dropped. */
  proposeRetryMs: 100,
  /** The leader's lease expiry check period: etcd's lessor checks every 500 ms. */
  leaseExpiryIntervalMs: 500,
  /** Lease revocations proposed per expiry round: etcd's leaseRevokeRate (1,000/s) at 2 rounds/s. */
  maxLeaseRevokesPerRound: 500,
  /** How often the leader proposes remaining-TTL checkpoints: etcd's default checkpoint interval (5 min). */
  leaseCheckpointIntervalMs: 5 * 60_000,
  /** Checkpoints in one proposal: etcd's maxLeaseCheckpointBatchSize. */
  maxLeaseCheckpointsPerProposal: 1_000,
  /** Learners in the cluster at once: etcd's maxLearners. */
  maxLearners: 1,
  /**
   * A learner may be promoted once its match index is at least this fraction of the leader's:
   * etcd's readyPercent (0.9) in isLearnerReady.
   */
  learnerReadyPercentHundredths: 90,
  /** Peer URLs, and client URLs, one member may list. */
  maxMemberUrls: 16,
  /** Length of one URL or member name. */
  maxMemberFieldLength: 1_024,
  /** Members in the table (voters and learners); raft clusters stay small. */
  maxMembers: 256,
  /** A forwarded lease call (keep-alive, time-to-live, promote) gives up after this. */
  forwardTimeoutMs: 5_000,
  /**
   * Tries to publish this member's attributes after start: a joining node may wait minutes to be
   * added and promoted (600 tries one second apart: ten minutes).
   */
  publishAttempts: 600,
  /** Pause between two tries to publish this member's attributes. */
  publishRetryMs: 1_000,
});

/** The server's limits: {@link DEFAULT_LIMITS}' fields, each any number (not the default's literal type). */
export type StoreServerLimits = { readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/** The version `status` reports: etcd's API level, marked as Cairn's by semver build metadata. */
export const STORE_VERSION = '3.4.0+cairn';
