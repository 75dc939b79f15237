import { CairnError, type Clock, type Logger, type Rng } from '../../core/index.js';
import type { Address, Transport } from '../../transport/types.js';
import type { ConfState, Entry, NodeId, RaftLogStore, Snapshot } from '../types.js';
import type { RaftNodeLimits } from './limits.js';

/**
 * The application a {@link RaftNode} drives: the state machine (the store).
 *
 * Contract: `apply` receives every committed entry exactly in log order, normal and conf entries
 * alike (an empty normal entry is a new leader's no-op), in batches; the next batch is not given
 * before the promise resolves. After a restart the driver resumes after
 * `max(snapshot index, appliedIndex())`, so an application that made its state durable up to
 * `appliedIndex()` sees each entry once; one that did not may see entries again, and must treat
 * an entry whose index it already applied as done (idempotent by index). `snapshot` is called
 * between batches and must return the image as of the last entry applied; `restore` replaces the
 * whole state with a snapshot's data (received from the leader, or found at restart when the
 * application is behind it). A rejected promise from any of these stops the node (its state
 * would otherwise diverge).
 *
 * An application that keeps its state in durable storage of its own implements `persist`; the
 * driver's compaction snapshots then hold no image (as etcd's: only index, term and
 * configuration; data `STATE_MACHINE_MARKER`, snapshot-marker.ts), taken in this order: `persist(applied)`
 * resolves (the state as of `applied` is durable) -> the metadata snapshot is saved -> the log is
 * compacted. `snapshot()` is then only called to send a follower an image at the current applied
 * index, and on restart `appliedIndex()` must be at or past the saved snapshot's index (the start
 * is refused with RaftError `CORRUPT` otherwise). Without `persist` every compaction snapshot
 * carries the full image from `snapshot()`, saved with the log.
 */
export interface RaftApplier {
  /** Applies committed entries, in order. */
  apply(entries: readonly Entry[]): Promise<void>;
  /**
   * The state machine image as of the last entry passed to `apply` when this is called (always
   * with no apply in flight). The promise may settle after later entries were applied (the driver
   * builds send-time images beside its loop); the image must not include them.
   */
  snapshot(): Promise<Uint8Array>;
  /** Replaces the state with `snapshot.data`, which stands for every entry up to `snapshot.meta.index`. */
  restore(snapshot: Snapshot): Promise<void>;
  /** After a restart: the index the application has already applied durably (0 when none). */
  appliedIndex(): number;
  /**
   * Optional. Makes the state as of entry `index` (the last entry passed to `apply`, or restored)
   * durable, together with everything applied before it; once it resolves, `appliedIndex()` after
   * a crash and restart is at least `index`, even when the last entries changed nothing (no-ops,
   * conf entries). Called between batches, with no apply in flight.
   */
  persist?(index: number): Promise<void>;
}

/** Options of {@link RaftNode.start}. */
export interface RaftNodeOptions {
  /** This node's id: a positive integer, unique in the cluster. */
  id: NodeId;
  /**
   * Where peer traffic goes (in the agent a mux channel of the gossip port, sealed when a keyring
   * is set). The node sets the transport's stream handler; the caller keeps ownership and closes it.
   */
  transport: Transport;
  /** The transport address of a peer, or undefined when unknown (messages to it are dropped). */
  resolve(id: NodeId): Address | undefined;
  /** Time: ticks run on it. */
  clock: Clock;
  /** Chance: the core's randomized election timeout and the read contexts draw from it. */
  rng: Rng;
  /** The durable log and hard state. The caller keeps ownership (the node does not close it). */
  logStore: RaftLogStore;
  /** The state machine. */
  applier: RaftApplier;
  /**
   * The initial configuration of a new cluster; used only when the log is empty (first start).
   * A node joining an existing cluster starts without it and learns the configuration from the leader.
   */
  bootstrap?: ConfState;
  /** Milliseconds per logical tick. Default 100. Election timeout = `electionTicks * tickMs`. */
  tickMs?: number;
  /** Ticks before a follower without a leader campaigns (randomized up to twice). Default 10. */
  electionTicks?: number;
  /** Ticks between a leader's heartbeats. Default 1. */
  heartbeatTicks?: number;
  /**
   * Take a snapshot and compact the log after this many applied entries (a metadata-only one
   * when the applier has `persist`, else a full image). Default 10,000 (etcd 3.4 uses 100,000; a smaller log restarts faster). 0 disables snapshots.
   */
  snapshotEntries?: number;
  /**
   * Entries kept below a snapshot when compacting, so a follower slightly behind catches up from
   * the log rather than a snapshot. Default 5,000 (etcd's SnapshotCatchUpEntries).
   */
  snapshotCatchUpEntries?: number;
  /** Pre-vote (Raft thesis 9.6). Default true. */
  preVote?: boolean;
  /** Check-quorum: a leader without a quorum for an election timeout steps down. Default true. */
  checkQuorum?: boolean;
  /** Bytes of entries per append message. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Append messages in flight per follower. Default 256. */
  maxInflightMsgs?: number;
  /**
   * The core's `deferCommitOnlyAppends`: a commit advance rides the next `app` with entries when
   * one goes out before the next Ready, instead of an empty `app` per follower at once. Default
   * true (etcd-io/raft, and the core's default, send the empty `app` at once).
   */
  deferCommitOnlyAppends?: boolean;
  /**
   * When messages to peers leave. Default: at once, at the end of each Ready (deterministic on the
   * simulator). Given a scheduler (the agent passes `setImmediate`), messages are gathered per peer
   * and handed to the stream when it runs: a follower's proposals forwarded from many client calls,
   * and its acknowledgements, arriving in one I/O phase of the event loop then leave as one frame
   * per peer instead of one each (fewer encodes, writes, reads and Readies on both sides). Only
   * delays sends, so nothing the Ready contract requires is lost. Proposals made while the Ready
   * loop is idle also wait for the scheduler, so those of one I/O phase go to the core (and, on
   * a follower, to the leader) as one request; `propose` settles then.
   */
  scheduleSends?: (run: () => void) => void;
  /** Where the node logs; default silent. */
  logger?: Logger;
  /** Overrides of the driver's limits (see `DEFAULT_LIMITS`). */
  limits?: Partial<RaftNodeLimits>;
}

/** Options with defaults filled in. */
export interface ResolvedOptions {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEntries: number;
  readonly snapshotCatchUpEntries: number;
}

/**
 * Fills defaults and checks the options.
 * @throws CairnError `INVALID_CONFIG` naming the bad field
 */
export function resolveOptions(o: RaftNodeOptions): ResolvedOptions {
  const out = {
    tickMs: o.tickMs ?? 100,
    electionTicks: o.electionTicks ?? 10,
    heartbeatTicks: o.heartbeatTicks ?? 1,
    snapshotEntries: o.snapshotEntries ?? 10_000,
    snapshotCatchUpEntries: o.snapshotCatchUpEntries ?? 5000,
  };
  const positive = (name: string, value: number, min: number) => {
    if (!Number.isFinite(value) || value < min) {
      throw new CairnError('INVALID_CONFIG', `raft node: ${name} must be a number >= ${min}, got ${value}`);
    }
  };
  if (!Number.isSafeInteger(o.id) || o.id <= 0)
    throw new CairnError('INVALID_CONFIG', `raft node: id must be a positive integer, got ${o.id}`);
  positive('tickMs', out.tickMs, 1);
  positive('electionTicks', out.electionTicks, 2);
  positive('heartbeatTicks', out.heartbeatTicks, 1);
  positive('snapshotEntries', out.snapshotEntries, 0);
  positive('snapshotCatchUpEntries', out.snapshotCatchUpEntries, 0);
  if (out.heartbeatTicks >= out.electionTicks) {
    throw new CairnError('INVALID_CONFIG', 'raft node: heartbeatTicks must be below electionTicks');
  }
  return out;
}
