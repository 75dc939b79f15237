import { CairnError } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import type { NodeId, RaftLogReader } from '../types.js';

/**
 * Limits of the raft core. Every queue the core keeps is bounded by one of these; going over is a
 * counted drop (for peer input) or a `PROPOSAL_DROPPED` (for local proposals), never unbounded
 * growth.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /** Bytes of entries in one `app` message: keeps one message small enough to send at once. */
  maxSizePerMsg: 1024 * 1024,
  /** `app` messages in flight to one follower in replicate state: bounds memory and the queue. */
  maxInflightMsgs: 256,
  /** Bytes of proposed but uncommitted entries on a leader: bounds memory when followers lag. */
  maxUncommittedEntriesBytes: 64 * 1024 * 1024,
  /** Bytes of committed entries handed to the application in one Ready: bounds one apply batch. */
  maxCommittedSizePerReady: 16 * 1024 * 1024,
  /** Entries in one `app` or `prop` message from a peer: a hostile message cannot flood the log. */
  maxEntriesPerMsg: 100_000,
  /** Read-index requests waiting for their heartbeat round: each holds a context until answered. */
  maxPendingReadIndex: 10_000,
  /** Messages queued for the next Ready: a driver that stops calling ready() cannot grow it forever. */
  maxQueuedMessages: 100_000,
  /** Bytes of one request context (read index): contexts travel in every heartbeat. */
  maxContextBytes: 1024,
});

/** The type of {@link DEFAULT_LIMITS}. */
export type RaftCoreLimits = typeof DEFAULT_LIMITS;

/** Configuration of one {@link RaftCore}. */
export interface RaftCoreConfig {
  /** This node's id; a positive integer. */
  id: NodeId;
  /**
   * Ticks without hearing from a leader before a follower campaigns (randomized in
   * [electionTicks, 2*electionTicks)). Default 10. Must be greater than `heartbeatTicks`.
   */
  electionTicks: number;
  /** Ticks between a leader's heartbeats. Default 1. */
  heartbeatTicks: number;
  /** The source of the randomized election timeout; the core has no other randomness. */
  rng: Rng;
  /** The stable log the core reads. */
  log: RaftLogReader;
  /** The last index the application has applied (after a restart). Default 0. */
  applied?: number;
  /** Pre-vote (Raft thesis 9.6): a partitioned node cannot disrupt the cluster. Default true. */
  preVote?: boolean;
  /**
   * Check-quorum: a leader steps down without a quorum of recent activity in an election timeout,
   * and a follower that heard from a leader within it ignores votes. Default true.
   */
  checkQuorum?: boolean;
  /** Bytes of entries per `app` message. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** `app` messages in flight per follower. Default 256. */
  maxInflightMsgs?: number;
  /** Bytes of uncommitted entries a leader accepts. Default 64 MiB. */
  maxUncommittedEntriesBytes?: number;
  /** Bytes of committed entries per Ready. Default 16 MiB. */
  maxCommittedSizePerReady?: number;
  /** When true a follower drops proposals instead of forwarding them to the leader. Default false. */
  disableProposalForwarding?: boolean;
  /** When true a leader removed from the configuration steps down. Default true. */
  stepDownOnRemoval?: boolean;
  /**
   * When the leader's commit index advances on an acknowledgement, followers with entries to
   * send get them at once (the `app` carries the new commit), but a follower with nothing new is
   * not sent an empty `app` then: the driver calls {@link RaftCore.flushCommitNotices} within a
   * bound of its choosing, and only followers that no `app` told of the commit in between get
   * one. Under load the next proposals' `app` carries the commit, saving an empty `app`, the
   * follower's Ready and apply batch for it, and its ack. Heartbeats carry the commit
   * (min(match, commit)) either way. Default false (etcd-io/raft's behaviour: an `app` to every
   * follower at once).
   */
  deferCommitOnlyAppends?: boolean;
}

/** A {@link RaftCoreConfig} with every default filled in and checked. */
export interface ResolvedConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly rng: Rng;
  readonly log: RaftLogReader;
  readonly applied: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly maxCommittedSizePerReady: number;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  readonly deferCommitOnlyAppends: boolean;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new CairnError('INVALID_CONFIG', `raft config: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Fills in defaults and validates a config.
 * @throws CairnError `INVALID_CONFIG` naming the bad field
 */
export function resolveConfig(config: RaftCoreConfig): ResolvedConfig {
  positiveInt('id', config.id);
  positiveInt('electionTicks', config.electionTicks);
  positiveInt('heartbeatTicks', config.heartbeatTicks);
  if (config.electionTicks <= config.heartbeatTicks) {
    throw new CairnError(
      'INVALID_CONFIG',
      `raft config: electionTicks (${config.electionTicks}) must be greater than heartbeatTicks (${config.heartbeatTicks})`,
    );
  }
  const applied = config.applied ?? 0;
  if (!Number.isSafeInteger(applied) || applied < 0) {
    throw new CairnError(
      'INVALID_CONFIG',
      `raft config: applied must be a non-negative integer, got ${applied}`,
    );
  }
  return {
    id: config.id,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    rng: config.rng,
    log: config.log,
    applied,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    maxSizePerMsg: positiveInt('maxSizePerMsg', config.maxSizePerMsg ?? DEFAULT_LIMITS.maxSizePerMsg),
    maxInflightMsgs: positiveInt('maxInflightMsgs', config.maxInflightMsgs ?? DEFAULT_LIMITS.maxInflightMsgs),
    maxUncommittedEntriesBytes: positiveInt(
      'maxUncommittedEntriesBytes',
      config.maxUncommittedEntriesBytes ?? DEFAULT_LIMITS.maxUncommittedEntriesBytes,
    ),
    maxCommittedSizePerReady: positiveInt(
      'maxCommittedSizePerReady',
      config.maxCommittedSizePerReady ?? DEFAULT_LIMITS.maxCommittedSizePerReady,
    ),
    disableProposalForwarding: config.disableProposalForwarding ?? false,
    stepDownOnRemoval: config.stepDownOnRemoval ?? true,
    deferCommitOnlyAppends: config.deferCommitOnlyAppends ?? false,
  };
}
