import {
  assert,
  bytesEqual,
  CairnError,
  type Clock,
  describeError,
  type Logger,
  silentLogger,
  type TimerHandle,
  withLimits,
} from '../../core/index.js';
import { DEFAULT_LIMITS as CORE_LIMITS } from '../core/config.js';
import { decodeConfChange, type RaftCore, type RaftStatus } from '../core/index.js';
import { RaftError } from '../errors.js';
import type { MemoryRaftLog } from '../memory-log.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  NONE,
  type NodeId,
  type Ready,
  type Snapshot,
  type SoftState,
} from '../types.js';
import { coalesceMessages } from './coalesce.js';
import { InboundStreams } from './inbound.js';
import { DEFAULT_LIMITS, type RaftNodeLimits } from './limits.js';
import { type RaftNodeOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { PeerSender, type PeerSenderContext, peerDialTimeoutMs } from './peer-sender.js';
import { ReadIndexBatcher } from './read-index.js';
import { recoverState } from './recover.js';
import { isStateMachineMarker, STATE_MACHINE_MARKER } from './snapshot-marker.js';
import { sendSnapshot } from './snapshot-send.js';
import { PeerStats } from './stats.js';
import { isWireType, WireCodec } from './wire.js';

/** What {@link RaftNode.status} reports: the core's status plus the driver's log positions. */
export type RaftNodeStatus = RaftStatus & { appliedIndex: number; lastIndex: number; snapshotIndex: number };

/** What {@link RaftNode.onStatusChange} listeners receive. */
export type RaftNodeStatusEvent = SoftState & { term: number };

interface ConfWaiter {
  readonly cc: ConfChange;
  resolve(cs: ConfState): void;
  reject(err: unknown): void;
}

interface TransferWaiter {
  readonly to: NodeId;
  resolve(): void;
  reject(err: unknown): void;
}

const EMPTY_BYTES = new Uint8Array(0);

/**
 * The raft driver: runs a {@link RaftCore} on a clock, a durable log, a transport and an
 * application, in the shape of etcd's raft node and etcdserver's raftNode.
 *
 * Ready loop (one Ready persisted at a time; proposals, steps and ticks that arrive meanwhile go
 * into the core and come out in the next Ready):
 * 1. the soft state is noted (listeners run);
 * 2. a leader sends its messages first (its write runs in parallel with its followers', as etcd);
 * 3. persist: `logStore.saveSnapshot(snapshot)`, then one `logStore.save(hardState, entries,
 *    mustSync)` (one save per Ready: the group commit), then the in-memory log mirrors it;
 * 4. a follower sends its messages now (votes and acks only after the state they promise is durable);
 * 5. apply: `applier.restore(snapshot)`, then committed entries (each conf entry through
 *    `core.applyConfChange` first) with `applier.apply`. Applying is pipelined as etcd's apply
 *    loop: the committed entries of this Ready apply while the next Ready is persisted and sent,
 *    at most one apply runs at a time and in order, and a Ready waits for the previous apply
 *    before its own, before restoring a snapshot, and for its own apply when it commits a conf
 *    entry (so the core's configuration changes before the next Ready, as etcd's waitApply);
 * 6. read states are matched to waiting readers, who are answered once applied covers them;
 * 7. `core.advance()`; then, every `snapshotEntries` applied entries, a snapshot is taken (after
 *    the apply in flight finished) and the log compacted, keeping `snapshotCatchUpEntries`
 *    entries below it.
 *
 * Errors: a failing log store or applier stops the node (its state could otherwise diverge from
 * what it acknowledged); every pending call then rejects with `STOPPED`, its cause attached.
 *
 * @example
 * ```ts
 * const node = await RaftNode.start({ id: 1, transport, resolve, clock, rng, logStore, applier,
 *   bootstrap: { voters: [1, 2, 3], learners: [] } });
 * await node.propose(encodeCommand(requestId, cmd));
 * const index = await node.readIndex();      // then serve the read once the store applied `index`
 * ```
 */
export class RaftNode {
  /** This node's id. */
  readonly id: NodeId;
  /** Counters of peer traffic (sent, dropped, refused, snapshots). */
  readonly stats = new PeerStats();

  private readonly core: RaftCore;
  private readonly log: MemoryRaftLog;
  private readonly options: RaftNodeOptions;
  private readonly settings: ResolvedOptions;
  /** Dial timeout of peer and snapshot streams (see {@link peerDialTimeoutMs}). */
  private readonly dialTimeoutMs: number;
  private readonly limits: RaftNodeLimits;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly codec: WireCodec;
  private readonly peers = new Map<NodeId, PeerSender>();
  private readonly inbound: InboundStreams;
  private readonly reads: ReadIndexBatcher;
  private readonly snapshotSends = new Map<NodeId, AbortController>();
  /** Peers whose transfer waits for a send-time image being built (beside the Ready loop). */
  private readonly snapshotBuilds = new Set<NodeId>();
  private readonly pendingSnapshots = new Map<NodeId, Message>();
  /** Clock time of the last message stepped from each member (peers only; members only). */
  private readonly heardAt = new Map<NodeId, number>();
  private readonly listeners = new Set<(s: RaftNodeStatusEvent) => void>();
  private confWaiters: ConfWaiter[] = [];
  private transferWaiters: TransferWaiter[] = [];

  private confState: ConfState;
  private applied: number;
  /** Entries up to this index were applied before a restart: conf changes only, not the applier. */
  private readonly skipThrough: number;
  private soft: SoftState = { leader: NONE, role: 'follower' };
  private term: number;
  private tickTimer: TimerHandle | undefined;
  private loopActive = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** The apply in flight (settles once applied; never rejects: a failure halts the node). */
  private applying: Promise<void> = Promise.resolve();
  /** The index of the last committed entry handed to the apply stage. */
  private applyTarget: number;
  private stopped = false;
  private failure: unknown;
  private readonly ctxPrefix: number;
  private ctxCounter = 0;
  /** Messages per peer waiting for the scheduled flush (only with `scheduleSends`). */
  private outbox = new Map<NodeId, Message[]>();
  private flushScheduled = false;
  private readonly flushOutboxBound = (): void => this.flushOutbox();
  private readonly kickBound = (): void => this.kick();
  /** Entry bytes a merged append may carry: the core's per-message limit. */
  private readonly maxAppBytes: number;
  /** Proposals waiting for the Ready loop's next turn, handed to the core as one request. */
  private proposals: ProposalBatch | undefined;

  private constructor(
    options: RaftNodeOptions,
    init: { core: RaftCore; log: MemoryRaftLog; applied: number; skipThrough: number; confState: ConfState },
  ) {
    this.options = options;
    this.id = options.id;
    this.settings = resolveOptions(options);
    this.dialTimeoutMs = peerDialTimeoutMs(this.settings.electionTicks * this.settings.tickMs);
    this.limits = withLimits<RaftNodeLimits>({ ...DEFAULT_LIMITS }, options.limits);
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger();
    this.codec = new WireCodec(this.limits);
    this.maxAppBytes = options.maxSizePerMsg ?? CORE_LIMITS.maxSizePerMsg;
    this.core = init.core;
    this.log = init.log;
    this.applied = init.applied;
    this.applyTarget = init.applied;
    this.skipThrough = init.skipThrough;
    this.confState = init.confState;
    this.term = this.core.status().term;
    this.ctxPrefix = options.rng.child('read-ctx').int(0x100000000);
    this.inbound = new InboundStreams({
      self: this.id,
      clock: this.clock,
      codec: this.codec,
      limits: this.limits,
      stats: this.stats,
      logger: this.logger,
      resolve: (id) => options.resolve(id),
      deliver: (m) => this.deliver(m),
    });
    this.reads = new ReadIndexBatcher(
      {
        request: (ctx) => this.requestRead(ctx),
        applied: () => this.applied,
        nextContext: () => this.nextReadContext(),
      },
      {
        maxPending: this.limits.maxPendingReads,
        maxInFlight: this.limits.maxReadBatchesInFlight,
        retryMs: this.limits.readRetryMs,
      },
    );
  }

  /**
   * Loads the log, builds the core and starts ticking and serving peers.
   *
   * First start (empty log) with `bootstrap`: writes etcd's bootstrap entries (one conf entry per
   * member, committed) before anything else. Restart: the snapshot, hard state and entries come
   * from `logStore.load()`; the application resumes after `max(snapshot index, appliedIndex())`
   * (restored from the snapshot first when it is behind it), and conf entries it already applied
   * are folded into the configuration so the core knows its peers at once.
   *
   * @throws CairnError `INVALID_CONFIG` for bad options; the log store's and applier's errors
   */
  static async start(options: RaftNodeOptions): Promise<RaftNode> {
    const { core, log, applied, skipThrough, confState } = await recoverState(
      options,
      resolveOptions(options),
    );
    const node = new RaftNode(options, { core, log, applied, skipThrough, confState });
    options.transport.onStream((stream) => node.inbound.accept(stream));
    node.scheduleTick();
    node.kick();
    return node;
  }

  // ------------------------------------------------------------------ public API

  /**
   * Proposes an application command. Resolves once the core accepted it: appended to the
   * leader's log, or forwarded to the leader from a follower (which may still lose it; the
   * application tracks what was applied with its own request ids).
   *
   * Proposals made while the Ready loop is busy (or in the same turn of the event loop) are
   * gathered and handed to the core together at the loop's next turn, in call order: one append
   * and one message per peer for all of them instead of one each. With `scheduleSends`, an idle
   * loop is started for proposals through that scheduler (the agent's `setImmediate`), so the
   * proposals of every callback in one I/O phase share the batch: a follower forwards them as one
   * request and runs one Ready for them. The promise then settles at that scheduled turn. They share their outcome: the
   * core accepts or drops the whole batch. A batch holds at most `maxProposalsPerBatch` proposals
   * and, past its first, `maxSizePerMsg` bytes; a fuller one is handed over at once. Conf changes
   * and leadership transfers hand over the waiting batch first, so proposal order is call order.
   *
   * @throws RaftError `NO_LEADER` (no leader known), `PROPOSAL_DROPPED` (refused by the core: a
   *   leadership transfer, over the uncommitted-bytes limit), `STOPPED`; CairnError `CANCELLED`
   */
  propose(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    try {
      this.checkUsable(signal);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.soft.leader === NONE) {
      return Promise.reject(new RaftError('NO_LEADER', `node ${this.id} knows no leader`));
    }
    let batch = this.proposals;
    if (
      batch !== undefined &&
      (batch.data.length >= this.limits.maxProposalsPerBatch || batch.bytes + data.length > this.maxAppBytes)
    ) {
      this.stepProposals();
      batch = undefined;
    }
    if (batch === undefined) {
      batch = newProposalBatch();
      this.proposals = batch;
    }
    batch.data.push(data);
    batch.bytes += data.length;
    const schedule = this.options.scheduleSends;
    if (schedule === undefined) this.kick();
    else if (batch.data.length === 1) schedule(this.kickBound);
    return batch.done;
  }

  /**
   * A linearizable read index: resolves with an index confirmed by a quorum as the leader's commit
   * index at some point after the call, once this node has applied at least up to it. A read of
   * the local state machine made then reflects every write acknowledged before the call.
   * Concurrent calls share one request (see {@link ReadIndexBatcher}).
   *
   * @throws RaftError `NO_LEADER` when no leader is known at the call, `PROPOSAL_DROPPED` over
   *   `maxPendingReads`, `STOPPED`; CairnError `CANCELLED` on abort
   */
  async readIndex(signal?: AbortSignal): Promise<number> {
    this.checkUsable(signal);
    if (this.soft.leader === NONE) throw new RaftError('NO_LEADER', `node ${this.id} knows no leader`);
    const p = this.reads.read(this.clock.now(), signal);
    this.kick();
    return p;
  }

  /**
   * Proposes a single-server configuration change; resolves with the new configuration once the
   * change is applied on this node (and passed to the applier).
   *
   * @throws RaftError `CONF_CHANGE_PENDING`, `NO_LEADER`, `PROPOSAL_DROPPED`, `TIMEOUT` (not applied
   *   within `requestTimeoutMs`: a forwarded change can be lost), `STOPPED`; CairnError `CANCELLED`
   */
  async proposeConfChange(cc: ConfChange, signal?: AbortSignal): Promise<ConfState> {
    this.checkUsable(signal);
    if (this.soft.leader === NONE) throw new RaftError('NO_LEADER', `node ${this.id} knows no leader`);
    if (this.confWaiters.length >= this.limits.maxPendingConfChanges) {
      throw new RaftError('PROPOSAL_DROPPED', `${this.confWaiters.length} conf changes are already waiting`);
    }
    this.stepProposals();
    this.core.proposeConfChange(cc);
    this.kick();
    return this.wait<ConfState>(signal, `conf change ${cc.type} ${cc.nodeId}`, (resolve, reject) => {
      const w: ConfWaiter = { cc, resolve, reject };
      this.confWaiters.push(w);
      return () => {
        this.confWaiters = this.confWaiters.filter((x) => x !== w);
      };
    });
  }

  /**
   * Hands leadership to `to` (which must be a voter); resolves when this node sees `to` lead.
   *
   * @throws RaftError `TIMEOUT` when the transfer did not happen within `requestTimeoutMs`,
   *   `NO_LEADER`, `STOPPED`; CairnError `CANCELLED`
   */
  async transferLeadership(to: NodeId, signal?: AbortSignal): Promise<void> {
    this.checkUsable(signal);
    if (this.soft.leader === to) return;
    if (this.soft.leader === NONE) throw new RaftError('NO_LEADER', `node ${this.id} knows no leader`);
    if (this.transferWaiters.length >= this.limits.maxPendingConfChanges) {
      throw new RaftError('PROPOSAL_DROPPED', 'too many leadership transfers are waiting');
    }
    this.stepProposals();
    this.core.transferLeader(to);
    this.kick();
    return this.wait<void>(signal, `leadership transfer to ${to}`, (resolve, reject) => {
      const w: TransferWaiter = { to, resolve, reject };
      this.transferWaiters.push(w);
      return () => {
        this.transferWaiters = this.transferWaiters.filter((x) => x !== w);
      };
    });
  }

  /** The core's status plus the applied, last and snapshot indexes. */
  status(): RaftNodeStatus {
    return {
      ...this.core.status(),
      appliedIndex: this.applied,
      lastIndex: this.core.lastIndex(),
      snapshotIndex: this.log.snapshot().meta.index,
    };
  }

  /** The current term (cheap: no status object is built). */
  currentTerm(): number {
    return this.core.term;
  }

  /** The known leader, 0 for none (cheap: no status object is built). */
  leader(): NodeId {
    return this.core.lead;
  }

  /** Whether `id` is a learner in this node's configuration (cheap). */
  isLearner(id: NodeId): boolean {
    return this.core.isLearner(id);
  }

  /**
   * Clock time (ms) of the last message this node received from member `id`, or undefined when
   * none since start. On the leader every follower answers each heartbeat, so this is how recently
   * a peer was seen alive, without the gap raft's `recentActive` has right after each check-quorum
   * round resets it. Used by the store's reconfiguration check.
   */
  lastHeardMs(id: NodeId): number | undefined {
    return this.heardAt.get(id);
  }

  /** The error that stopped the node, if a log store or applier failure did. */
  get error(): unknown {
    return this.failure;
  }

  /**
   * Calls `listener` whenever the leader, the role or the term changes (never for the state at
   * subscription). Returns the unsubscribe function. Listeners must not throw (a throw is logged).
   */
  onStatusChange(listener: (s: RaftNodeStatusEvent) => void): () => void {
    if (this.listeners.size >= this.limits.maxStatusListeners) {
      throw new CairnError('LIMIT_EXCEEDED', `over maxStatusListeners=${this.limits.maxStatusListeners}`);
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Stops ticking, closes the node's streams, waits for the Ready in progress to finish, and
   * rejects every pending call with `STOPPED`. The transport and log store stay open (the caller
   * owns them). Idempotent.
   */
  async stop(): Promise<void> {
    this.halt(new RaftError('STOPPED', `raft node ${this.id} was stopped`));
    await this.loopDone;
    await this.applying;
  }

  // ------------------------------------------------------------------ Ready loop

  private kick(): void {
    if (this.loopActive || this.stopped) return;
    this.loopActive = true;
    this.loopDone = Promise.resolve().then(() => this.runLoop());
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.stopped) {
        this.stepProposals();
        // A commit advance no append carried goes out now (the core's deferCommitOnlyAppends):
        // after the proposals were stepped, so that their append carries it when there are any.
        this.core.flushCommitNotices();
        if (!this.core.hasReady()) break;
        const rd = this.core.ready();
        await this.handleReady(rd);
        this.core.advance(rd);
        this.reads.onApplied();
        if (this.snapshotDue() || this.pendingSnapshots.size > 0) {
          // A snapshot is of the applied state at `applied`: no apply may be under way.
          await this.applying;
          await this.maybeSnapshot();
          await this.flushSnapshotSends();
        }
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.loopActive = false;
    }
  }

  /** Hands the waiting proposals to the core as one request and settles their shared promise. */
  private stepProposals(): void {
    const batch = this.proposals;
    if (batch === undefined) return;
    this.proposals = undefined;
    try {
      if (batch.data.length === 1) this.core.propose(batch.data[0]!);
      else this.core.proposeMany(batch.data);
      batch.resolve();
    } catch (err) {
      batch.reject(err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== undefined || (rd.hardState !== undefined && rd.hardState.term !== this.term)) {
      this.onSoftState(rd.softState ?? this.soft, rd.hardState?.term ?? this.term);
    }
    const leader = this.soft.role === 'leader';
    let after = rd.messages;
    if (leader) {
      this.sendMessages(rd.messages);
      after = [];
    } else if (rd.messages.some(isForward)) {
      // Forwarded requests promise nothing about this node's log: they need not wait for its write.
      this.sendMessages(rd.messages.filter(isForward));
      after = rd.messages.filter((m) => !isForward(m));
    }
    if (rd.snapshot !== undefined) await this.options.logStore.saveSnapshot(rd.snapshot);
    if (rd.hardState !== undefined || rd.entries.length > 0) {
      await this.options.logStore.save(rd.hardState, rd.entries, rd.mustSync);
    }
    if (rd.snapshot !== undefined) this.log.applySnapshot(rd.snapshot);
    this.log.append(rd.entries);
    if (rd.hardState !== undefined) this.log.setHardState(rd.hardState);
    this.sendMessages(after);
    if (rd.snapshot !== undefined) {
      await this.applying;
      await this.restoreSnapshot(rd);
    }
    if (rd.committedEntries.length > 0) await this.startApply(rd.committedEntries);
    if (rd.readStates.length > 0) this.reads.onReadStates(rd.readStates, this.clock.now());
  }

  private async restoreSnapshot(rd: Ready): Promise<void> {
    const snap = rd.snapshot!;
    if (snap.meta.index <= this.applied) return;
    await this.options.applier.restore(snap);
    this.applied = snap.meta.index;
    this.applyTarget = Math.max(this.applyTarget, this.applied);
    this.confState = snap.meta.confState;
  }

  /**
   * Hands committed entries to the apply stage once the previous apply finished; returns then,
   * or once these are applied too when they hold a conf entry. An apply failure halts the node.
   */
  private async startApply(entries: readonly Entry[]): Promise<void> {
    await this.applying;
    if (this.stopped) return;
    this.applyTarget = entries[entries.length - 1]!.index;
    const job = this.applyEntries(entries).then(
      () => this.reads.onApplied(),
      (err: unknown) => this.fail(err),
    );
    this.applying = job;
    if (entries.some((e) => e.type === 'conf')) await job;
  }

  /** True when enough entries were handed to the apply stage since the last snapshot. */
  private snapshotDue(): boolean {
    const every = this.settings.snapshotEntries;
    return every !== 0 && this.applyTarget - this.log.snapshot().meta.index >= every;
  }

  /** Stops the node after a storage or apply failure. */
  private fail(err: unknown): void {
    this.logger.error({ err: describeError(err) }, 'raft: node stopped by a storage or apply failure');
    this.failure = err;
    this.halt(
      new RaftError('STOPPED', `raft node ${this.id} stopped: ${describeError(err)}`, { cause: err }),
    );
  }

  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    const applied: { cc: ConfChange; cs: ConfState }[] = [];
    for (const e of entries) {
      if (e.type !== 'conf') continue;
      let cc: ConfChange;
      try {
        cc = decodeConfChange(e.data);
      } catch (err) {
        // Committed by a quorum, so every member holds it: a bug or corruption, not peer input.
        throw new RaftError('CORRUPT', `conf entry ${e.index} does not decode`, { cause: err });
      }
      this.confState = this.core.applyConfChange(cc);
      applied.push({ cc, cs: this.confState });
    }
    const fresh =
      entries[0]!.index > this.skipThrough ? entries : entries.filter((e) => e.index > this.skipThrough);
    if (fresh.length > 0) await this.options.applier.apply(fresh);
    const last = entries[entries.length - 1]!.index;
    assert(
      last > this.applied || entries.length === 0,
      `applied index went back: ${last} <= ${this.applied}`,
    );
    this.applied = last;
    for (const { cc, cs } of applied) this.resolveConfWaiter(cc, cs);
    if (applied.length > 0) this.dropRemovedPeers();
  }

  /** Closes the streams to peers no longer in the configuration: nothing will be sent to them. */
  private dropRemovedPeers(): void {
    const { voters, learners } = this.confState;
    for (const [id, sender] of this.peers) {
      if (voters.includes(id) || learners.includes(id)) continue;
      sender.close();
      this.peers.delete(id);
    }
    for (const id of this.outbox.keys()) {
      if (!voters.includes(id) && !learners.includes(id)) this.outbox.delete(id);
    }
  }

  private resolveConfWaiter(cc: ConfChange, cs: ConfState): void {
    const i = this.confWaiters.findIndex((w) => sameConfChange(w.cc, cc));
    if (i < 0) return;
    const [w] = this.confWaiters.splice(i, 1);
    w!.resolve(cs);
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.settings.snapshotEntries;
    const snapIndex = this.log.snapshot().meta.index;
    if (every === 0 || this.applied - snapIndex < every || this.stopped) return;
    await this.takeSnapshot();
  }

  /**
   * Snapshots at the applied index, saves it, and compacts both logs. With an applier that
   * persists its own state: `persist(index)` first, then a metadata-only snapshot (data
   * {@link STATE_MACHINE_MARKER}), so the log is only ever compacted behind durable state. Without:
   * the applier's full image.
   */
  private async takeSnapshot(): Promise<void> {
    const index = this.applied;
    const applier = this.options.applier;
    let data: Uint8Array;
    if (applier.persist !== undefined) {
      await applier.persist(index);
      data = STATE_MACHINE_MARKER;
    } else {
      data = await applier.snapshot();
    }
    const snap = this.log.createSnapshot(index, this.confState, data);
    await this.options.logStore.saveSnapshot(snap);
    const compactTo = index - this.settings.snapshotCatchUpEntries;
    if (compactTo >= this.log.firstIndex()) {
      this.log.compact(compactTo);
      await this.options.logStore.compact(compactTo);
    }
    this.logger.debug(
      { index, compactTo, metadataOnly: data === STATE_MACHINE_MARKER },
      'raft: snapshot taken',
    );
  }

  /**
   * Starts the snapshot transfers the last Ready asked for, with an image of the applied index
   * (its entry's term, the configuration as of it), as etcd's `createMergedSnapshotMessage`; it is
   * sent, not saved. The core asked for the held snapshot's index; the follower's answer at the
   * newer index satisfies it. A follower must find itself in the snapshot's configuration, which
   * the current one does for any member the core sends to.
   *
   * The image is asked for here, with no apply in flight, and built beside the Ready loop (the
   * applier's contract: the image is of the state when `snapshot()` was called, however many
   * entries are applied before it settles), as etcd streams a read transaction of its backend
   * beside the apply loop: the loop goes on committing and applying meanwhile, where an image of a
   * large store built inside it would stall heartbeats and proposals for as long. Its transfers
   * start once it is built. One image serves every transfer of the call. A failure to build it
   * fails the transfers, not the node.
   *
   * Without `persist` the held snapshot is a full image and is sent as is, unless it predates the
   * target's addition (a learner added after the last snapshot): then a fresh one is taken first.
   */
  private async flushSnapshotSends(): Promise<void> {
    let image: Promise<Snapshot> | undefined;
    for (const [to, m] of [...this.pendingSnapshots]) {
      this.pendingSnapshots.delete(to);
      if (this.stopped || this.snapshotSends.has(to) || this.snapshotBuilds.has(to)) continue;
      let snap = this.log.snapshot();
      if (this.options.applier.persist !== undefined || isStateMachineMarker(snap.data)) {
        image ??= this.sendTimeSnapshot();
        this.snapshotBuilds.add(to);
        image.then(
          (built) => {
            this.snapshotBuilds.delete(to);
            if (!this.stopped) this.startSnapshotSend({ ...m, snapshot: built });
          },
          (err: unknown) => {
            this.snapshotBuilds.delete(to);
            if (this.stopped) return;
            this.logger.error(
              { err: describeError(err), peer: to },
              'raft: could not build a snapshot to send',
            );
            this.stats.snapshotsFailed++;
            this.reportSnapshot(to, false);
          },
        );
        continue;
      }
      const { voters, learners } = snap.meta.confState;
      if (!voters.includes(to) && !learners.includes(to) && this.applied > snap.meta.index) {
        await this.takeSnapshot();
        snap = this.log.snapshot();
      }
      this.startSnapshotSend({ ...m, snapshot: snap });
    }
  }

  /**
   * The applier's image at the applied index, asked for now (no apply may be in flight); it may
   * settle after later entries are applied. Its metadata is taken now too. Not saved.
   */
  private sendTimeSnapshot(): Promise<Snapshot> {
    const index = this.applied;
    let meta: Snapshot['meta'];
    let data: Promise<Uint8Array>;
    try {
      meta = { index, term: this.log.term(index), confState: this.confState };
      data = this.options.applier.snapshot();
    } catch (err) {
      return Promise.reject(err);
    }
    return data.then((bytes) => ({ meta, data: bytes }));
  }

  // ------------------------------------------------------------------ messages

  private sendMessages(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      if (m.to === this.id) {
        this.deliver(m);
      } else if (m.type === 'snap') {
        this.sendSnapshotTo(m);
      } else if (isWireType(m.type)) {
        const list = byPeer.get(m.to);
        if (list === undefined) byPeer.set(m.to, [m]);
        else list.push(m);
      } else {
        this.logger.warn(
          { type: m.type, to: m.to },
          'raft: the core produced a local-only message for a peer',
        );
      }
    }
    const schedule = this.options.scheduleSends;
    if (schedule === undefined) {
      for (const [to, list] of byPeer) this.peer(to).send(coalesceMessages(list, this.maxAppBytes));
      return;
    }
    for (const [to, list] of byPeer) {
      const queued = this.outbox.get(to);
      if (queued === undefined) this.outbox.set(to, list);
      else for (const m of list) queued.push(m);
    }
    if (byPeer.size > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      schedule(this.flushOutboxBound);
    }
  }

  /** Hands the gathered messages to their peers, one batch per peer, in the order produced. */
  private flushOutbox(): void {
    this.flushScheduled = false;
    if (this.stopped || this.outbox.size === 0) return;
    const outbox = this.outbox;
    this.outbox = new Map();
    for (const [to, list] of outbox) this.peer(to).send(coalesceMessages(list, this.maxAppBytes));
  }

  private peer(id: NodeId): PeerSender {
    let p = this.peers.get(id);
    if (p === undefined) {
      p = new PeerSender(id, this.peerContext());
      this.peers.set(id, p);
    }
    return p;
  }

  private peerContext(): PeerSenderContext {
    return {
      self: this.id,
      transport: this.options.transport,
      clock: this.clock,
      codec: this.codec,
      limits: this.limits,
      stats: this.stats,
      logger: this.logger,
      dialTimeoutMs: this.dialTimeoutMs,
      resolve: (id) => this.options.resolve(id),
      unreachable: (id) => {
        if (this.stopped) return;
        this.core.reportUnreachable(id);
        this.kick();
      },
    };
  }

  /** Queues a `snap` message: transfers start after the Ready is done (see flushSnapshotSends). */
  private sendSnapshotTo(m: Message): void {
    // One transfer per peer at a time; the one running reports when done.
    if (!this.snapshotSends.has(m.to) && !this.snapshotBuilds.has(m.to)) this.pendingSnapshots.set(m.to, m);
  }

  private startSnapshotSend(m: Message): void {
    const address = this.options.resolve(m.to);
    if (address === undefined) {
      this.reportSnapshot(m.to, false);
      return;
    }
    const abort = new AbortController();
    this.snapshotSends.set(m.to, abort);
    void sendSnapshot(this.peerContext(), m, address, abort.signal).then((ok) => {
      this.snapshotSends.delete(m.to);
      this.reportSnapshot(m.to, ok);
    });
  }

  private reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.stopped) return;
    this.core.reportSnapshot(id, ok);
    this.kick();
  }

  /** Steps a message from a peer (or one the core addressed to this node). Never throws. */
  private deliver(m: Message): void {
    if (this.stopped) return;
    if (m.from !== this.id) this.noteHeard(m.from);
    try {
      this.core.step(m);
    } catch (err) {
      // The core drops bad peer input itself; a throw here is a core bug, reported loudly.
      this.logger.error({ err: describeError(err), type: m.type, from: m.from }, 'raft: step threw');
      return;
    }
    this.kick();
  }

  /** Records a message from `from` when it is a member; the map holds members only. */
  private noteHeard(from: NodeId): void {
    const cs = this.confState;
    if (!cs.voters.includes(from) && !cs.learners.includes(from)) return;
    this.heardAt.set(from, this.clock.now());
    if (this.heardAt.size > cs.voters.length + cs.learners.length) {
      for (const id of this.heardAt.keys()) {
        if (!cs.voters.includes(id) && !cs.learners.includes(id)) this.heardAt.delete(id);
      }
    }
  }

  // ------------------------------------------------------------------ ticks, reads, status

  private scheduleTick(): void {
    if (this.stopped) return;
    this.tickTimer = this.clock.setTimer(this.settings.tickMs, () => {
      this.tickTimer = undefined;
      if (this.stopped) return;
      this.core.tick();
      this.reads.retry(this.clock.now());
      this.kick();
      this.scheduleTick();
    });
  }

  private requestRead(ctx: Uint8Array): boolean {
    const answer: unknown = this.core.readIndex(ctx);
    this.kick();
    return answer !== false;
  }

  private nextReadContext(): Uint8Array {
    this.ctxCounter++;
    const ctx = new Uint8Array(12);
    const view = new DataView(ctx.buffer);
    view.setUint32(0, this.ctxPrefix);
    view.setUint32(4, Math.floor(this.ctxCounter / 0x100000000));
    view.setUint32(8, this.ctxCounter >>> 0);
    return ctx;
  }

  private onSoftState(soft: SoftState, term: number): void {
    const changed = soft.leader !== this.soft.leader || soft.role !== this.soft.role || term !== this.term;
    this.soft = soft;
    this.term = term;
    if (!changed) return;
    const waiters = this.transferWaiters.filter((w) => w.to === soft.leader);
    this.transferWaiters = this.transferWaiters.filter((w) => w.to !== soft.leader);
    for (const w of waiters) w.resolve();
    const event: RaftNodeStatusEvent = { leader: soft.leader, role: soft.role, term };
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err: describeError(err) }, 'raft: status listener threw');
      }
    }
  }

  private checkUsable(signal: AbortSignal | undefined): void {
    if (this.stopped) {
      throw new RaftError('STOPPED', `raft node ${this.id} is stopped`, { cause: this.failure });
    }
    if (signal?.aborted) throw new CairnError('CANCELLED', 'the request was cancelled');
  }

  /** A promise settled by a waiter, by `signal`, by stop, or with TIMEOUT after requestTimeoutMs. */
  private wait<T>(
    signal: AbortSignal | undefined,
    what: string,
    register: (resolve: (v: T) => void, reject: (e: unknown) => void) => () => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let unregister = () => {};
      const settle = () => {
        unregister();
        this.clock.cancel(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        settle();
        reject(new CairnError('CANCELLED', `${what} was cancelled`));
      };
      const timer = this.clock.setTimer(this.limits.requestTimeoutMs, () => {
        settle();
        reject(
          new RaftError('TIMEOUT', `${what} did not complete within ${this.limits.requestTimeoutMs} ms`),
        );
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      unregister = register(
        (v) => {
          settle();
          resolve(v);
        },
        (e) => {
          settle();
          reject(e);
        },
      );
    });
  }

  private halt(err: RaftError): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer !== undefined) this.clock.cancel(this.tickTimer);
    this.tickTimer = undefined;
    this.inbound.close();
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    this.outbox.clear();
    for (const a of this.snapshotSends.values()) a.abort();
    this.reads.rejectAll(err);
    this.proposals?.reject(err);
    this.proposals = undefined;
    for (const w of [...this.confWaiters]) w.reject(err);
    for (const w of [...this.transferWaiters]) w.reject(err);
    this.confWaiters = [];
    this.transferWaiters = [];
  }
}

/** Proposals gathered for one hand-over to the core; every proposer awaits `done`. */
interface ProposalBatch {
  readonly data: Uint8Array[];
  bytes: number;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

function newProposalBatch(): ProposalBatch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every proposer awaits `done`; this only keeps a batch nobody awaits from being reported.
  done.catch(() => {});
  return { data: [], bytes: 0, done, resolve, reject };
}

/** A request forwarded to the leader (a proposal or a read index), not an answer about the log. */
function isForward(m: Message): boolean {
  return m.type === 'prop' || m.type === 'readIndex';
}

/** True when two conf changes are the same request (type, node and context). */
function sameConfChange(a: ConfChange, b: ConfChange): boolean {
  if (a.type !== b.type || a.nodeId !== b.nodeId) return false;
  return bytesEqual(a.context ?? EMPTY_BYTES, b.context ?? EMPTY_BYTES);
}
