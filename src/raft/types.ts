/**
 * The shared vocabulary of the raft brick: log entries, hard state, snapshots, messages and the
 * `Ready` batch, in the shape of etcd-io/raft's raftpb. The pure core (`core/`), the durable log
 * (`log/`) and the driver (`node/`) all speak these types; nothing here does IO.
 *
 * Node ids are positive integers below 2^53 (0 means "none"); the agent derives them from node
 * names. Indexes and terms are non-negative integers below 2^53.
 */

/** A raft node id; 0 is "none". */
export type NodeId = number;

/** The id that means "no node" (no vote, no leader). */
export const NONE: NodeId = 0;

/** What a log entry carries: an application command, or a configuration change. */
export type EntryType = 'normal' | 'conf';

/** One log entry. An entry with `type: 'normal'` and empty `data` is a leader's no-op. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** For `normal`: the application's command. For `conf`: an encoded {@link ConfChange}. */
  readonly data: Uint8Array;
}

/** The state that must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** Who this node voted for in `term`; {@link NONE} when it has not voted. */
  readonly vote: NodeId;
  readonly commit: number;
}

/** The cluster's configuration: who votes and who only learns. Ids are sorted ascending. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * A single-server configuration change. `addNode` on an existing learner promotes it;
 * `addLearner` on an existing voter is refused. `context` is opaque to raft (the store puts the
 * member's name and addresses there).
 */
export interface ConfChange {
  readonly type: 'addNode' | 'addLearner' | 'removeNode';
  readonly nodeId: NodeId;
  readonly context?: Uint8Array;
}

/** What a snapshot covers: everything up to and including `index` (of term `term`). */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** A state machine image plus the log position it stands for. `data` is opaque to raft. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** The kinds of message, following raftpb.MessageType. `hup`, `beat`, `unreachable` and
 * `snapStatus` are local-only: the core creates or receives them, they never cross the network. */
export type MessageType =
  | 'hup'
  | 'beat'
  | 'prop'
  | 'app'
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'unreachable'
  | 'snapStatus'
  | 'checkQuorum'
  | 'transferLeader'
  | 'timeoutNow'
  | 'readIndex'
  | 'readIndexResp';

/**
 * The message types that cross the network, in wire-code order (a type's code is its index: append
 * new types, never reorder). The others are created and consumed inside one node.
 */
export const NETWORK_MESSAGE_TYPES = [
  'prop',
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'snap',
  'heartbeat',
  'heartbeatResp',
  'transferLeader',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
] as const satisfies readonly MessageType[];

/** One raft message. Fields a type does not use are 0 / empty. */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** For `app`: the term of the entry at `index`; for votes: the candidate's last log term. */
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** On a rejected `appResp`: the follower's hint for where to retry (fast backtracking). */
  readonly rejectHint: number;
  /** For `snap`. The driver moves its `data` in chunks; the core sees it whole. */
  readonly snapshot?: Snapshot;
  /** Opaque request context: the read request id for `readIndex`, `campaignTransfer` for votes. */
  readonly context?: Uint8Array;
}

/** A linearizable read's answer: reads with `requestCtx` may be served once applied >= `index`. */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

/** A node's role. */
export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth reporting; not persisted. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: RaftRole;
}

/**
 * One batch of work the core hands its driver.
 *
 * Ordering contract (etcd-io/raft's): for one `Ready`, the driver
 * 1. writes `snapshot` (if any), then `entries` and `hardState` to stable storage, with an fsync
 *    when `mustSync` (entries appended at an index replace every stored entry from that index on);
 * 2. only then sends `messages` (a leader's `app` messages may go out before its own write, as in
 *    etcd, but nothing in this contract requires it; so may `prop` and `readIndex` messages, which
 *    forward a request to the leader and promise nothing about this node's state);
 * 3. applies `snapshot` to the state machine, then `committedEntries` in order (a committed
 *    entry is never returned twice, and never before it is persisted locally);
 * 4. calls `advance()`. No new `Ready` is produced until then. The driver may call it once the
 *    committed entries are handed to an apply stage that applies them in order before any later
 *    ones, as etcd's apply loop, provided a conf entry is applied (`applyConfChange`) before the
 *    next `Ready`.
 * `readStates` are answered once the state machine has applied up to each one's index.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** True when `hardState` (term, vote) or `entries` changed: the write must be synced. */
  readonly mustSync: boolean;
}

/**
 * The stable log as the core reads it: the entries already persisted, after the last snapshot.
 * Synchronous by design (the driver keeps it in memory and mirrors the durable log), so the core
 * never waits on IO. etcd-io/raft's `Storage` interface.
 */
export interface RaftLogReader {
  /** The hard and conf state found at start. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi), at most `maxBytes` of data (always at least one entry when lo < hi). */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of entry `index`; throws `COMPACTED` / `UNAVAILABLE` as {@link LogGapError}. */
  term(index: number): number;
  /** The first index still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot (its meta, and data when held). */
  snapshot(): Snapshot;
}

/** Thrown by a {@link RaftLogReader} for an index it cannot answer for. */
export class LogGapError extends Error {
  constructor(
    readonly kind: 'compacted' | 'unavailable',
    readonly index: number,
  ) {
    super(`raft log: index ${index} is ${kind}`);
    this.name = 'LogGapError';
  }
}

/**
 * The durable log and hard state. One implementation writes segment files through {@link LogFiles}
 * (the filesystem in production, the simulator's disk in simulation).
 *
 * Contract: `save` calls are applied in call order; when a `save(..., sync: true)` resolves, it and
 * every earlier save survive a crash. Entries saved at index i replace every stored entry >= i.
 * `load` after a crash returns exactly the synced prefix (and possibly more of what was written);
 * a torn or corrupt record at the tail is truncated; a corrupt record before the tail is refused
 * with `CORRUPT`, never silently skipped.
 */
export interface RaftLogStore {
  /** What a restart recovers: the last snapshot (meta and data), hard state, entries after it. */
  load(): Promise<{ hardState: HardState; snapshot: Snapshot | undefined; entries: Entry[] }>;
  /** Appends `entries` and records `hardState`; one call is one group commit. */
  save(hardState: HardState | undefined, entries: readonly Entry[], sync: boolean): Promise<void>;
  /** Stores a snapshot durably; entries up to its index may then be dropped. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Drops entries with index <= `index` (must be at or below the saved snapshot's index). */
  compact(index: number): Promise<void>;
  close(): Promise<void>;
}
