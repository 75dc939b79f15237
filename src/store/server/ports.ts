import type { ConfChange, ConfState, Entry, NodeId, Snapshot } from '../../raft/types.js';
import type {
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  Watch,
  WatchRequest,
  WatchResponse,
} from '../api.js';
import type { StoreCommand } from '../command.js';
import type { StoreError } from '../errors.js';

/**
 * What the server uses of its two engines, as narrow interfaces: the raft driver (`RaftNode`,
 * src/raft/node) and the MVCC state machine (`MvccStore`, src/store/mvcc) satisfy them
 * structurally, and the unit tests drive the server with small fakes.
 */

/** The raft status fields the server reads. */
export interface RaftStatusView {
  readonly term: number;
  /** The leader's id, 0 when none is known. */
  readonly lead: NodeId;
  readonly role: 'follower' | 'preCandidate' | 'candidate' | 'leader';
  readonly commit: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  /** Index of the latest snapshot the log holds (0 when none). */
  readonly snapshotIndex?: number;
  readonly confState: ConfState;
  /** On the leader: each peer's replication progress. */
  readonly progress?: ReadonlyMap<
    NodeId,
    {
      readonly match: number;
      readonly isLearner: boolean;
      /** Heard from since the last check-quorum round (raft's recentActive). */
      readonly recentActive?: boolean;
    }
  >;
}

/** The raft driver as the server uses it (RaftNode). Errors carry a RaftError `code`. */
export interface RaftPort {
  readonly id: NodeId;
  propose(data: Uint8Array, signal?: AbortSignal): Promise<void>;
  readIndex(signal?: AbortSignal): Promise<number>;
  proposeConfChange(cc: ConfChange, signal?: AbortSignal): Promise<ConfState>;
  status(): RaftStatusView;
  /** `status().term`, `status().lead` and learner membership, without building a status: they
   *  are read on every request. */
  currentTerm(): number;
  leader(): NodeId;
  isLearner(id: NodeId): boolean;
  /** Clock time of the last message from member `id` (optional: the reconfiguration check). */
  lastHeardMs?(id: NodeId): number | undefined;
  /**
   * Hands leadership to voter `to`; resolves when this node sees `to` lead (optional: MoveLeader).
   * Errors carry a RaftError `code` (`TIMEOUT` when the transfer did not happen in time).
   */
  transferLeadership?(to: NodeId, signal?: AbortSignal): Promise<void>;
  onStatusChange(
    listener: (s: { leader: NodeId; role: RaftStatusView['role']; term: number }) => void,
  ): () => void;
  stop(): Promise<void>;
}

/** The application side of raft (what RaftNode calls); implemented by the server's applier. */
export interface RaftApplierPort {
  apply(entries: readonly Entry[]): Promise<void>;
  snapshot(): Promise<Uint8Array>;
  restore(snapshot: Snapshot): Promise<void>;
  appliedIndex(): number;
  /** Makes the state as of raft index `index` durable (RaftApplier.persist). */
  persist?(index: number): Promise<void>;
}

/** One lease as the MVCC store reports it. */
export interface LeaseView {
  readonly id: number;
  /** Granted TTL, seconds. */
  readonly ttl: number;
  /** Checkpointed remaining TTL, seconds, when one was applied. */
  readonly remainingTtl?: number;
  readonly keys: readonly Uint8Array[];
}

/** The MVCC state machine as the server uses it (MvccStore). */
export interface MvccPort {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
  /** Applies one command at raft `index`; an etcd error is returned, not thrown. */
  apply(index: number, cmd: StoreCommand): Promise<unknown>;
  /**
   * Applies put, delete and txn commands in index order with one Storage write, as `apply` on
   * each would; each result comes with the revision right after its command. Optional: without
   * it the applier calls `apply` per command.
   */
  applyBatch?(
    items: readonly { index: number; cmd: StoreCommand }[],
  ): Promise<readonly { result: unknown; revision: number }[]>;
  /** A local read; the header is filled through the store's header callback. */
  range(req: RangeRequest): Promise<RangeResponse>;
  /** A txn without writes against the local state (no log entry); throws the txn's StoreError. */
  readTxn(req: TxnRequest): Promise<TxnResponse>;
  /** `onResponse` returning exactly `false` pauses the watch until its `resume()`. */
  watch(req: WatchRequest, onResponse: (res: WatchResponse) => unknown): Watch & { resume(): void };
  leases(): readonly LeaseView[];
  lease(id: number): LeaseView | undefined;
  snapshot(): Promise<Uint8Array>;
  restore(data: Uint8Array, index: number): Promise<void>;
  /**
   * Makes every applied write durable (one synced write) and records the applied index as at
   * least `index` (entries the store had nothing to do for: no-ops, conf entries).
   */
  sync(index?: number): Promise<void>;
  /** etcd's HashKV (optional: the server answers notCapable without it). */
  hashKV?(revision: number): Promise<{ hash: number; revision: number; compactRevision: number }>;
  close(): Promise<void>;
}

/** The leader-side lease clock (the MVCC brick's Lessor): pure, time passed in. */
export interface LessorPort {
  /** Replaces every lease with the store's (at start and after a snapshot restore). */
  reset(leases: readonly LeaseView[], nowMs: number): void;
  grant(id: number, ttlSeconds: number, nowMs: number): void;
  revoke(id: number): void;
  /** Records a checkpoint applied from the log. */
  applyCheckpoint(id: number, remainingTtl: number): void;
  /**
   * Refreshes `id` to its granted TTL; returns that TTL in seconds.
   * Throws StoreError `notLeader` when not primary, `leaseNotFound` for an unknown or expired lease.
   */
  renew(id: number, nowMs: number): number;
  /** Remaining whole seconds of `id` (the granted TTL when not primary), or -1 when unknown. */
  timeToLive(id: number, nowMs: number): number;
  /**
   * Expired lease ids, earliest first, at most `max` (empty unless primary). Each id returned is
   * not returned again for the lessor's retry interval, so the caller asks for no more than it
   * will propose.
   */
  expired(nowMs: number, max: number): number[];
  /** Becoming leader: every lease expires at now + remaining (or granted) TTL + `extendMs`. */
  promote(nowMs: number, extendMs: number): void;
  /** Losing leadership: forget expiries. */
  demote(): void;
  /**
   * Remaining TTLs worth checkpointing now, at most `max`; each returned lease is not due again
   * for the lessor's checkpoint interval.
   */
  checkpoints(nowMs: number, max: number): { id: number; remainingTtl: number }[];
}

/** What applying one command produced, handed to the proposer's waiter. */
export interface ApplyOutcome {
  /** The MVCC store's result (a response body, or `{ error: StoreError }`). */
  readonly result: unknown;
  /** The store's revision right after the apply. */
  readonly revision: number;
}

/** True when an MVCC result (`{ t: 'error', error }`) is an etcd error. */
export function resultError(result: unknown): StoreError | undefined {
  if (typeof result === 'object' && result !== null && 'error' in result) {
    return (result as { error: StoreError }).error;
  }
  return undefined;
}

/** The response body of an MVCC result (`{ t, res }`), or undefined (skipped, error). */
export function resultBody(result: unknown): Record<string, unknown> | undefined {
  if (typeof result === 'object' && result !== null && 'res' in result) {
    const res = (result as { res: unknown }).res;
    if (typeof res === 'object' && res !== null) return res as Record<string, unknown>;
  }
  return undefined;
}

/** The `code` of a raft driver's error (RaftError), if it has one. */
export function raftCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}
