/**
 * The pure Raft core, in the shape of etcd-io/raft's RawNode.
 *
 * Design notes
 * ------------
 * The core is a deterministic state machine: no IO, no timers, no clock, no randomness of its own
 * (the randomized election timeout comes from the injected `Rng`). Time is `tick()`; input is
 * `step(message)` and the local calls (`propose`, `campaign`, `readIndex`, ...); output is a
 * {@link Ready} batch that the driver persists, sends and applies, then acknowledges with
 * {@link RaftCore.advance}. The ordering contract is written on `Ready` in ../types.ts.
 *
 * Invariants (asserted, a violation is a bug and throws `ASSERTION_FAILED`):
 * - the term never decreases; a vote is cast at most once per term (first come, first served);
 * - `applied <= committed <= lastIndex`, and `committed` never decreases;
 * - no entry at or below `committed` is ever replaced (a leader's message that would do so is
 *   dropped and counted as `commitConflict`: only a broken peer can send it);
 * - a leader commits by counting replicas only entries of its own term (Raft §5.4.2, figure 8);
 * - a committed entry is returned once, in order, in `committedEntries` of a Ready.
 *
 * Peer input is never trusted: `step` checks every message (types, addressing, bounds, an
 * `app`'s entries contiguous and of plausible terms) and drops what is wrong, counting the
 * reason in {@link RaftCore.stats}. It never throws for a message from the network.
 *
 * What differs from etcd-io/raft:
 * - no joint consensus: single-server changes only (`addNode`, `addLearner`, `removeNode`;
 *   `addNode` on a learner promotes it; `addLearner` on a voter is refused, a no-op when applied);
 * - ReadOnlySafe only (no lease-based reads); read contexts travel in `context`, not in an entry;
 * - a leader rejects a local `proposeConfChange` while one is pending (`CONF_CHANGE_PENDING`);
 *   a forwarded one is replaced by an empty entry, as etcd does;
 * - `stepDownOnRemoval` defaults to true; `mustSync` is also true for a Ready with a snapshot;
 * - self votes are counted at once (etcd 3.4's behaviour), not via a message to self;
 * - no asynchronous storage writes; `hasReady()` is false while a Ready awaits `advance()`;
 * - a follower told to commit past its last index (only possible after it lost synced data)
 *   ignores the commit and counts `commitBeyondLog` instead of panicking;
 * - on restart, an `applied` index above the stored commit index raises the commit index (the
 *   commit index is not synced on its own, and what was applied was committed).
 */
import { assert } from '../../core/assert.js';
import { CairnError } from '../../core/errors.js';
import { RaftError } from '../errors.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  NONE,
  type NodeId,
  type RaftRole,
  type Ready,
  type SoftState,
} from '../types.js';
import { encodeConfChange } from './conf-change.js';
import { DEFAULT_LIMITS, type RaftCoreConfig, resolveConfig } from './config.js';
import { payloadBytes } from './entries.js';
import { makeMessage } from './message.js';
import { checkMessage, type DropReason } from './message-check.js';
import type { ProgressState } from './progress.js';
import { Raft } from './raft.js';

/** A leader's view of one member, as reported by {@link RaftCore.status}. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
}

/** A snapshot of the core's state for monitoring and tests. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lead: NodeId;
  readonly role: RaftRole;
  readonly confState: ConfState;
  /** Only on the leader: each member's replication progress. */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
  readonly leadTransferee: NodeId;
}

/** Counters of what the core dropped. */
export interface RaftStats {
  /** Messages (from the network or local calls) dropped, by reason. */
  readonly dropped: ReadonlyMap<DropReason, number>;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * One Raft node's protocol state, driven by its owner.
 *
 * @example
 * ```ts
 * const log = new MemoryRaftLog();
 * log.setConfState({ voters: [1, 2, 3], learners: [] });
 * const core = new RaftCore({ id: 1, electionTicks: 10, heartbeatTicks: 1, rng: Rng.fromSeed(1), log });
 * core.campaign();
 * while (core.hasReady()) {
 *   const rd = core.ready();
 *   // persist rd.snapshot, rd.entries, rd.hardState (fsync if rd.mustSync); mirror them in `log`
 *   // send rd.messages; apply rd.committedEntries (calling core.applyConfChange for conf entries)
 *   core.advance(rd);
 * }
 * ```
 */
export class RaftCore {
  readonly id: NodeId;
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | undefined;
  private readonly limits: { maxEntriesPerMsg: number; maxContextBytes: number };

  /** @throws CairnError `INVALID_CONFIG` naming a bad field */
  constructor(config: RaftCoreConfig) {
    const cfg = resolveConfig(config);
    this.id = cfg.id;
    this.raft = new Raft(cfg);
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
    this.limits = {
      maxEntriesPerMsg: DEFAULT_LIMITS.maxEntriesPerMsg,
      maxContextBytes: DEFAULT_LIMITS.maxContextBytes,
    };
  }

  /** Counters of dropped messages by reason. */
  get stats(): RaftStats {
    return { dropped: this.raft.dropped };
  }

  /** Advances logical time by one tick: elections, heartbeats, check-quorum, transfer timeout. */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (with pre-vote when enabled). No-op on a leader or a learner. */
  campaign(): void {
    this.raft.step(makeMessage({ type: 'hup', to: this.id, from: this.id }));
  }

  /**
   * Proposes an application command. On a follower it is forwarded to the leader (there is no
   * guarantee it arrives); on the leader it is appended to the log.
   * @throws RaftError `PROPOSAL_DROPPED` with no known leader, during a leader transfer, when
   *   forwarding is disabled, or over the uncommitted-bytes limit
   */
  propose(data: Uint8Array): void {
    this.proposeEntries([{ term: 0, index: 0, type: 'normal', data }]);
  }

  /**
   * Proposes several application commands as one request: they are appended together, in order,
   * and replicated as one (or forwarded to the leader in one message). All or none are accepted.
   * @throws RaftError `PROPOSAL_DROPPED` as for {@link propose}
   */
  proposeMany(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    const entries: Entry[] = new Array(data.length);
    for (let i = 0; i < data.length; i++) entries[i] = { term: 0, index: 0, type: 'normal', data: data[i]! };
    this.proposeEntries(entries);
  }

  /**
   * Proposes a single-server configuration change. Apply it when committed with
   * {@link applyConfChange}.
   * @throws RaftError `CONF_CHANGE_PENDING` on a leader with an unapplied conf change;
   *   `PROPOSAL_DROPPED` as for {@link propose}
   */
  proposeConfChange(cc: ConfChange): void {
    const r = this.raft;
    if (r.role === 'leader' && r.pendingConfIndex > r.log.applied) {
      throw new RaftError(
        'CONF_CHANGE_PENDING',
        `a conf change at index ${r.pendingConfIndex} is not applied yet (applied ${r.log.applied})`,
      );
    }
    this.proposeEntries([{ term: 0, index: 0, type: 'conf', data: encodeConfChange(cc) }]);
  }

  private proposeEntries(entries: Entry[]): void {
    const m = makeMessage({ type: 'prop', to: this.id, from: this.id, entries });
    if (this.raft.step(m) !== undefined) {
      const r = this.raft;
      const why =
        r.role === 'leader'
          ? r.leadTransferee !== NONE
            ? `leadership is being transferred to ${r.leadTransferee}`
            : 'the uncommitted entries are over maxUncommittedEntriesBytes or this node was removed'
          : r.lead === NONE
            ? 'no leader is known'
            : 'proposal forwarding is disabled';
      throw new RaftError('PROPOSAL_DROPPED', `proposal dropped on node ${this.id}: ${why}`);
    }
  }

  /**
   * Applies a committed conf change to the configuration and returns the new configuration.
   * Called by the driver for each committed `conf` entry, in log order.
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Steps a message from the network. Never throws for peer input: a malformed, misaddressed,
   * stale or unexpected message is dropped and counted in {@link stats}.
   * @returns the reason it was dropped, or `undefined` when it was handled
   */
  step(m: Message): DropReason | undefined {
    const bad = checkMessage(m, this.id, this.limits);
    if (bad !== undefined) return this.raft.count(bad);
    return this.raft.step(m);
  }

  /**
   * Requests a linearizable read. The answer comes as a `ReadState` with this `requestCtx` in a
   * later Ready: the read may be served once the application has applied up to its index.
   * Dropped (and counted) without a leader, or over the pending-read limit; the caller times out.
   * @returns false when the request was dropped at once
   * @throws CairnError `INVALID_ARGUMENT` for an empty context or one over `maxContextBytes`
   */
  readIndex(requestCtx: Uint8Array): boolean {
    if (requestCtx.byteLength === 0 || requestCtx.byteLength > DEFAULT_LIMITS.maxContextBytes) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `read context must be 1..${DEFAULT_LIMITS.maxContextBytes} bytes`,
      );
    }
    return (
      this.raft.step(makeMessage({ type: 'readIndex', to: this.id, from: this.id, context: requestCtx })) ===
      undefined
    );
  }

  /**
   * Asks the leader to hand leadership to `to` (forwarded when called on a follower). The
   * transferee is caught up first, then told to campaign; proposals are refused meanwhile; the
   * transfer is abandoned after an election timeout.
   */
  transferLeader(to: NodeId): void {
    this.raft.step(makeMessage({ type: 'transferLeader', to: this.id, from: to }));
  }

  /**
   * With `deferCommitOnlyAppends`: true when the commit index advanced and some followers with
   * nothing new to receive were not sent it yet. The driver calls {@link flushCommitNotices}
   * within its bound; until then an `app` with entries, or a heartbeat, may carry the commit.
   */
  hasCommitNotices(): boolean {
    return this.raft.commitNoticePending;
  }

  /**
   * Sends (in the next Ready) an `app`, empty when there is nothing new, to each follower that
   * holds entries up to a commit index it was not told of: what etcd-io/raft sends at once on a
   * commit advance. A no-op when {@link hasCommitNotices} is false or this node is not leader.
   */
  flushCommitNotices(): void {
    this.raft.flushCommitNotices();
  }

  /** The driver could not reach `id`: a leader stops streaming to it and probes instead. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: 'unreachable', to: this.id, from: id }));
  }

  /**
   * The driver finished (ok) or failed to send the snapshot to `id`. The driver must report every
   * `snap` message it was given, delivered or not: until it does, the leader sends `id` nothing
   * else (etcd's contract).
   */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(makeMessage({ type: 'snapStatus', to: this.id, from: id, reject: !ok }));
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  /** True when a {@link ready} call has work for the driver (and no Ready awaits `advance`). */
  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const r = this.raft;
    const soft = this.softState();
    if (soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role) return true;
    if (!sameHardState(this.hardState(), this.prevHard)) return true;
    if (r.log.unstable.snapshot !== undefined) return true;
    if (r.msgs.length > 0 || r.log.unstableEntries().length > 0 || r.readStates.length > 0) return true;
    return r.log.hasNextCommitted();
  }

  /**
   * The next batch of work; see the ordering contract on {@link Ready}. Call {@link advance}
   * with it when done; no other Ready is produced before.
   */
  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called again before advance()');
    const r = this.raft;
    const soft = this.softState();
    const hard = this.hardState();
    const softChanged = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role;
    const hardChanged = !sameHardState(hard, this.prevHard);
    const entries = [...r.log.unstableEntries()];
    const snapshot = r.log.unstable.snapshot;
    const rd: { -readonly [K in keyof Ready]: Ready[K] } = {
      entries,
      committedEntries: r.log.hasNextCommitted() ? r.log.nextCommitted(r.cfg.maxCommittedSizePerReady) : [],
      messages: r.msgs,
      readStates: r.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hard.term !== this.prevHard.term ||
        hard.vote !== this.prevHard.vote,
    };
    if (softChanged) rd.softState = soft;
    if (hardChanged) rd.hardState = hard;
    if (snapshot !== undefined) rd.snapshot = snapshot;
    r.msgs = [];
    r.readStates = [];
    this.outstanding = rd;
    return rd;
  }

  /**
   * Acknowledges that `rd` was carried out: its entries and snapshot are stable, its committed
   * entries applied.
   */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() must be given the Ready last returned by ready()');
    this.outstanding = undefined;
    const r = this.raft;
    if (rd.softState !== undefined) this.prevSoft = rd.softState;
    if (rd.hardState !== undefined) this.prevHard = rd.hardState;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      r.log.appliedTo(lastCommitted.index);
      if (r.role === 'leader')
        r.uncommittedSize = Math.max(0, r.uncommittedSize - payloadBytes(rd.committedEntries));
    } else if (rd.snapshot !== undefined) {
      r.log.appliedTo(rd.snapshot.meta.index);
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) r.log.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot !== undefined) r.log.stableSnapTo(rd.snapshot.meta.index);
  }

  /** The core's state; `progress` only on the leader. */
  status(): RaftStatus {
    const r = this.raft;
    const base = {
      id: this.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lead: r.lead,
      role: r.role,
      confState: r.trk.confState(),
      leadTransferee: r.leadTransferee,
    };
    if (r.role !== 'leader') return base;
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of r.trk.progress) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        recentActive: pr.recentActive,
        isLearner: pr.isLearner,
      });
    }
    return { ...base, progress };
  }

  /**
   * The current term, the known leader (0 for none) and whether `id` is a learner, without
   * building a {@link status} (which copies the configuration and, on a leader, every progress).
   */
  get term(): number {
    return this.raft.term;
  }

  get lead(): NodeId {
    return this.raft.lead;
  }

  isLearner(id: NodeId): boolean {
    return this.raft.trk.learners.includes(id);
  }

  /** The last index of the log (stable and unstable). */
  lastIndex(): number {
    return this.raft.log.lastIndex();
  }
}
