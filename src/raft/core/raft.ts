import { assert } from '../../core/assert.js';
import { bytesEqual } from '../../core/bytes.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  LogGapError,
  type Message,
  NONE,
  type NodeId,
  type RaftRole,
  type ReadState,
  type Snapshot,
} from '../types.js';
import { DEFAULT_LIMITS, type ResolvedConfig } from './config.js';
import { payloadBytes } from './entries.js';
import { CAMPAIGN_TRANSFER, type MessageFields, makeMessage, voteResponseType } from './message.js';
import type { DropReason } from './message-check.js';
import { voteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import { ProgressTracker } from './tracker.js';

type CampaignKind = 'preElection' | 'election' | 'transfer';

/** The outcome of stepping a message: `undefined` when handled, else why it was dropped. */
export type StepResult = DropReason | undefined;

/**
 * The Raft state machine (etcd-io/raft's raft.go): roles, terms, votes, replication, commit,
 * read index, conf changes and leader transfer. {@link RaftCore} wraps it with the Ready/advance
 * interface; see the design notes at the top of raft-core.ts.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: RaftRole = 'follower';
  readonly log: RaftLog;
  trk: ProgressTracker;
  isLearner = false;
  /** Messages to send with the next Ready. */
  msgs: Message[] = [];
  /** Answered reads for the next Ready. */
  readStates: ReadState[] = [];
  leadTransferee: NodeId = NONE;
  /** The index of the last conf entry proposed by this leader; none may be pending above applied. */
  pendingConfIndex = 0;
  /** Payload bytes of this leader's entries not yet applied (bounded by maxUncommittedEntriesBytes). */
  uncommittedSize = 0;
  readOnly = new ReadOnly();
  /** Read requests that arrived before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /**
   * The commit index advanced and followers with nothing to send were not told yet
   * (`deferCommitOnlyAppends`); {@link flushCommitNotices} tells them.
   */
  commitNoticePending = false;
  /** Messages dropped, by reason. */
  readonly dropped = new Map<DropReason, number>();

  constructor(readonly cfg: ResolvedConfig) {
    this.id = cfg.id;
    this.log = new RaftLog(cfg.log);
    this.trk = new ProgressTracker(cfg.maxInflightMsgs);
    const { hardState, confState } = cfg.log.initialState();
    this.trk.reset(confState, this.log.lastIndex());
    this.isLearner = this.trk.learners.includes(this.id);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) {
      assert(
        hardState.commit >= this.log.committed && hardState.commit <= this.log.lastIndex(),
        `hard state commit ${hardState.commit} is out of [${this.log.committed}, ${this.log.lastIndex()}]`,
      );
      this.log.committed = hardState.commit;
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    if (cfg.applied > 0) {
      // The commit index is not synced on its own, so after a crash the application may have
      // applied past it; what it applied was committed, so the commit index catches up.
      assert(cfg.applied <= this.log.lastIndex(), `applied ${cfg.applied} is past the last index`);
      this.log.commitTo(cfg.applied);
      this.log.appliedTo(cfg.applied);
    }
    this.becomeFollower(this.term, NONE);
  }

  // ---- bookkeeping ----

  count(reason: DropReason): StepResult {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
    return reason;
  }

  /** Queues a message; fills in `from` and, except for proposals and read requests, the term. */
  send(f: MessageFields): void {
    const isVote =
      f.type === 'vote' || f.type === 'preVote' || f.type === 'voteResp' || f.type === 'preVoteResp';
    let term = f.term ?? 0;
    // The messages are built only when the check fails: this runs for every message sent.
    if (isVote) {
      if (term === 0) assert(false, `${f.type} must carry a term`);
    } else {
      if (term !== 0) assert(false, `${f.type} must not set its term (${term})`);
      if (f.type !== 'prop' && f.type !== 'readIndex') term = this.term;
    }
    if (this.msgs.length >= DEFAULT_LIMITS.maxQueuedMessages) {
      this.count('queueFull');
      return;
    }
    // Built once, then `from` and `term` set: a spread of `f` first cost a second object per message.
    const m = makeMessage(f) as { -readonly [K in keyof Message]: Message[K] };
    m.from = f.from ?? this.id;
    m.term = term;
    this.msgs.push(m);
  }

  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.log.unstable.snapshot === undefined;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.rng.int(this.cfg.electionTicks);
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private reset(term: number): void {
    assert(term >= this.term, () => `term went backwards: ${term} < ${this.term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.match = id === this.id ? last : 0;
      pr.next = last + 1;
      pr.state = 'probe';
      pr.probeSent = false;
      pr.pendingSnapshot = 0;
      pr.recentActive = false;
      pr.sentCommit = 0;
      pr.matchAtBeat = -1;
      pr.inflights.reset();
    }
    this.commitNoticePending = false;
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  // ---- role changes ----

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become pre-candidate');
    // Pre-vote changes neither term nor vote: a partitioned node does not disrupt anyone.
    this.trk.resetVotes();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  becomeLeader(): void {
    assert(this.role !== 'follower', 'a follower cannot become leader without an election');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) self.becomeReplicate();
    // Conf entries in the uncommitted tail may be pending: refuse new ones until all is applied.
    this.pendingConfIndex = this.log.lastIndex();
    // A no-op of this term: committing it commits everything before it (Raft §5.4.2) and lets
    // read requests be served.
    const ok = this.appendEntry([{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }]);
    assert(ok, 'the empty entry of a new leader must be accepted');
  }

  // ---- ticks ----

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.hup(this.cfg.preVote ? 'preElection' : 'election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.checkQuorum();
      if (this.role === 'leader' && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private checkQuorum(): void {
    if (!this.trk.quorumActive(this.id)) {
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
  }

  // ---- elections ----

  /** Starts an election unless this node is leader, cannot vote, or has conf entries to apply. */
  hup(kind: CampaignKind): void {
    if (this.role === 'leader' || !this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    try {
      const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
      if (lo > this.log.committed) return false;
      return this.log
        .slice(lo, this.log.committed + 1, Number.POSITIVE_INFINITY)
        .some((e) => e.type === 'conf');
    } catch (err) {
      if (err instanceof LogGapError) return false;
      throw err;
    }
  }

  private campaign(kind: CampaignKind): void {
    let voteType: 'vote' | 'preVote';
    let term: number;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      voteType = 'preVote';
      term = this.term + 1; // the term this node would campaign in
    } else {
      this.becomeCandidate();
      voteType = 'vote';
      term = this.term;
    }
    this.trk.recordVote(this.id, true);
    if (this.trk.tallyVotes().result === 'won') {
      // A single voter wins at once.
      if (kind === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.trk.voters) {
      if (id === this.id) continue;
      const f: MessageFields = { type: voteType, to: id, term, index: lastIndex, logTerm: lastTerm };
      this.send(kind === 'transfer' ? { ...f, context: CAMPAIGN_TRANSFER } : f);
    }
  }

  /** Answers a vote or pre-vote request (Raft §5.2, §5.4.1; thesis §9.6 for pre-vote). */
  private handleVoteRequest(m: Message & { type: 'vote' | 'preVote' }): void {
    // First come, first served: a vote already cast in this term is only repeated for the same
    // candidate. A pre-vote for a higher term is granted freely (it changes nothing here).
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    const respType = voteResponseType(m.type);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  // ---- stepping ----

  /** Steps one message (network or local). Returns why it was dropped, if it was. */
  step(m: Message): StepResult {
    if (m.term === 0) {
      // Local messages, and proposals and read requests forwarded by followers.
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.context !== undefined && bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease =
          this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTicks;
        // A node that heard from a leader within the election timeout ignores votes: the leader
        // is alive, and a disruptive candidate must not depose it (thesis §4.2.3).
        if (!force && inLease) return this.count('leaseVoteIgnored');
      }
      if (m.type === 'preVote') {
        // Never change term for a pre-vote.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The term moves when the pre-vote wins.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A leader of an old term (cut off, then back) learns of the new term from this answer.
        // Without it, with check-quorum or pre-vote, it could keep a follower from ever campaigning.
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote') {
        // Answer so a pre-candidate with a stale term learns it and does not wait forever.
        this.send({ type: 'preVoteResp', to: m.from, term: this.term, reject: true });
      }
      return this.count('staleTerm');
    }

    switch (m.type) {
      case 'hup':
        this.hup(this.cfg.preVote ? 'preElection' : 'election');
        return undefined;
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m as Message & { type: 'vote' | 'preVote' });
        return undefined;
      default:
        if (this.role === 'leader') return this.stepLeader(m);
        if (this.role === 'follower') return this.stepFollower(m);
        return this.stepCandidate(m);
    }
  }

  // ---- leader ----

  private stepLeader(m: Message): StepResult {
    switch (m.type) {
      case 'beat':
        this.bcastHeartbeat();
        return undefined;
      case 'checkQuorum':
        this.checkQuorum();
        return undefined;
      case 'prop':
        return this.leaderPropose(m);
      case 'readIndex':
        return this.leaderReadIndex(m);
      default:
        break;
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return this.count('unknownPeer');
    switch (m.type) {
      case 'appResp':
        return this.handleAppendResponse(m);
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m);
        return undefined;
      case 'snapStatus':
        if (pr.state !== 'snapshot') return undefined;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // After success, wait for the follower's answer before the next `app`; after failure,
        // wait a heartbeat before retrying.
        pr.probeSent = true;
        return undefined;
      case 'unreachable':
        if (pr.state === 'replicate') pr.becomeProbe();
        return undefined;
      case 'transferLeader':
        this.leaderTransfer(m.from);
        return undefined;
      default:
        return this.count('unexpected');
    }
  }

  private leaderPropose(m: Message): StepResult {
    if (!this.trk.progress.has(this.id)) return this.count('proposalDropped'); // removed
    if (this.leadTransferee !== NONE) return this.count('proposalDropped');
    const entries: Entry[] = [];
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i]!;
      if (e.type === 'conf') {
        if (this.pendingConfIndex > this.log.applied) {
          // One conf change at a time: a second one becomes a no-op (etcd's behaviour).
          entries.push({ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) });
          continue;
        }
        this.pendingConfIndex = this.log.lastIndex() + i + 1;
      }
      entries.push(e);
    }
    if (!this.appendEntry(entries)) return this.count('proposalDropped');
    this.bcastAppend();
    return undefined;
  }

  /** Appends entries of this term to the leader's log; false when over the uncommitted limit. */
  appendEntry(es: readonly Entry[]): boolean {
    const last = this.log.lastIndex();
    const ents = es.map(
      (e, i): Entry => ({ term: this.term, index: last + 1 + i, type: e.type, data: e.data }),
    );
    const size = payloadBytes(ents);
    if (
      this.uncommittedSize > 0 &&
      size > 0 &&
      this.uncommittedSize + size > this.cfg.maxUncommittedEntriesBytes
    ) {
      return false;
    }
    this.uncommittedSize += size;
    const li = this.log.append(ents);
    this.trk.progress.get(this.id)?.maybeUpdate(li);
    this.maybeCommit();
    return true;
  }

  /** Commits what a majority holds, if it is of this term (Raft §5.4.2). */
  maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term);
  }

  private handleAppendResponse(m: Message): StepResult {
    const pr = this.trk.progress.get(m.from)!;
    pr.recentActive = true;
    if (m.reject) {
      // Fast backtracking: skip every index whose term is above the follower's hint term.
      let next = m.rejectHint;
      if (m.logTerm > 0) next = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return undefined;
    }
    // An ack past the end of the leader's log can only come from a broken or hostile peer;
    // taking it would set a match the leader cannot send from.
    if (m.index > this.log.lastIndex()) return this.count('malformed');
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return undefined;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      if (this.cfg.deferCommitOnlyAppends) this.bcastCommit();
      else this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    // Flow control may allow several more messages now; each call sends at most one.
    for (let i = 0; i < this.cfg.maxInflightMsgs && this.maybeSendAppend(m.from, false); i++) {}
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', to: m.from });
    }
    return undefined;
  }

  private handleHeartbeatResponse(m: Message): void {
    const pr = this.trk.progress.get(m.from)!;
    pr.recentActive = true;
    pr.probeSent = false;
    // A full window gets one slot back so that a lost `app` does not stall the follower forever.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) {
      // A follower streaming entries (replicate state, match moving) has its acks on the way:
      // with deferred commit notices, only one whose match stood still for a heartbeat interval
      // (an ack may have been lost) gets an empty `app` to answer. etcd-io/raft sends it always.
      if (this.cfg.deferCommitOnlyAppends && pr.state === 'replicate' && pr.match !== pr.matchAtBeat) {
        this.maybeSendAppend(m.from, false);
      } else {
        this.sendAppend(m.from);
      }
    }
    pr.matchAtBeat = pr.match;
    if (m.context === undefined || m.context.byteLength === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined) return;
    if (voteResult(this.trk.voters, acks) !== 'won') return;
    for (const rs of this.readOnly.advance(m.context)) this.answerRead(rs.req, rs.index);
  }

  private leaderTransfer(transferee: NodeId): void {
    const pr = this.trk.progress.get(transferee);
    if (pr === undefined || pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = NONE;
    }
    if (transferee === this.id) return;
    // The transfer must finish within an election timeout, counted from now.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: transferee });
    else this.sendAppend(transferee);
  }

  // ---- read index ----

  private committedEntryInCurrentTerm(): boolean {
    return this.log.termOrUndefined(this.log.committed) === this.term;
  }

  private leaderReadIndex(m: Message): StepResult {
    const ctx = m.context;
    if (ctx === undefined) return this.count('malformed');
    if (this.trk.isSingleton(this.id)) {
      this.answerRead(m, this.log.committed);
      return undefined;
    }
    if (this.readOnly.size + this.pendingReadIndexMessages.length >= DEFAULT_LIMITS.maxPendingReadIndex) {
      return this.count('readIndexDropped');
    }
    // Until an entry of this term commits, this leader's commit index may be behind what an
    // earlier leader committed (Raft §6.4): the read waits.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return undefined;
    }
    this.startRead(m, ctx);
    return undefined;
  }

  private startRead(m: Message, ctx: Uint8Array): void {
    this.readOnly.addRequest(this.log.committed, m, ctx);
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeat(ctx);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.startRead(m, m.context!);
  }

  private answerRead(req: Message, index: number): void {
    const ctx = req.context!;
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: ctx });
    } else {
      this.send({ type: 'readIndexResp', to: req.from, index, context: ctx });
    }
  }

  // ---- sending ----

  bcastAppend(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /**
   * The commit index advanced (`deferCommitOnlyAppends`): followers with entries to send get them
   * now, with the commit; the others are told by {@link flushCommitNotices} unless an `app` with
   * entries reaches them first.
   */
  private bcastCommit(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    this.commitNoticePending = true;
  }

  /**
   * Sends an `app` (empty when there is nothing new) to each follower that holds entries up to a
   * commit index it was not told of, as the leader's `bcastAppend` would have at the commit
   * advance. Called by {@link RaftCore.ready}; a no-op unless a commit advance is pending.
   */
  flushCommitNotices(): void {
    if (!this.commitNoticePending) return;
    this.commitNoticePending = false;
    if (this.role !== 'leader') return;
    const committed = this.log.committed;
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      if (Math.min(committed, pr.next - 1) > pr.sentCommit) this.maybeSendAppend(id, true);
    }
  }

  bcastHeartbeat(ctx?: Uint8Array): void {
    const context = ctx ?? this.readOnly.lastPendingRequestCtx();
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit past what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      if (commit > pr.sentCommit) pr.sentCommit = commit;
      this.send(
        context === undefined
          ? { type: 'heartbeat', to: id, commit }
          : { type: 'heartbeat', to: id, commit, context },
      );
    }
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends `to` the entries it needs next (or a snapshot when they are compacted). With
   * `sendIfEmpty` false, nothing is sent when there are no entries. Returns true when a message
   * was sent.
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number | undefined;
    let ents: Entry[] | undefined;
    try {
      prevTerm = this.log.term(prevIndex);
      ents = this.log.entries(pr.next, this.cfg.maxSizePerMsg);
    } catch (err) {
      if (!(err instanceof LogGapError) || err.kind !== 'compacted') throw err;
    }
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to);
    if (ents.length === 0 && !sendIfEmpty) return false;
    // The follower commits up to the last index this message reaches.
    const reach = ents.length > 0 ? ents[ents.length - 1]!.index : prevIndex;
    const told = Math.min(this.log.committed, reach);
    if (told > pr.sentCommit) pr.sentCommit = told;
    this.send({
      type: 'app',
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    });
    if (ents.length > 0) {
      const last = ents[ents.length - 1]!.index;
      if (pr.state === 'replicate') {
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else if (pr.state === 'probe') {
        pr.probeSent = true;
      }
    }
    return true;
  }

  private sendSnapshot(to: NodeId): boolean {
    const pr = this.trk.progress.get(to)!;
    // Only to a follower that answers: a snapshot is large, and a dead peer would waste it.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    assert(snapshot.meta.index > 0, `entries for ${to} are compacted but there is no snapshot`);
    this.send({ type: 'snap', to, snapshot });
    pr.becomeSnapshot(snapshot.meta.index);
    return true;
  }

  // ---- follower and candidate ----

  private stepFollower(m: Message): StepResult {
    switch (m.type) {
      case 'prop':
        if (this.lead === NONE || this.cfg.disableProposalForwarding) return this.count('proposalDropped');
        this.send({ ...m, to: this.lead, from: m.from === NONE ? this.id : m.from, term: 0 });
        return undefined;
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleAppendEntries(m);
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleHeartbeat(m);
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return undefined;
      case 'transferLeader':
        if (this.lead === NONE) return this.count('unexpected');
        this.send({ type: 'transferLeader', to: this.lead, from: m.from });
        return undefined;
      case 'timeoutNow':
        // The leader asks this node to campaign at once, skipping pre-vote and the lease.
        this.hup('transfer');
        return undefined;
      case 'readIndex':
        if (this.lead === NONE) return this.count('readIndexDropped');
        this.send({
          type: 'readIndex',
          to: this.lead,
          from: m.from === NONE ? this.id : m.from,
          context: m.context!,
        });
        return undefined;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, requestCtx: m.context! });
        return undefined;
      default:
        return this.count('unexpected');
    }
  }

  private stepCandidate(m: Message): StepResult {
    const myResp = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'prop':
        return this.count('proposalDropped');
      case 'readIndex':
        return this.count('readIndexDropped');
      case 'app':
        this.becomeFollower(m.term, m.from);
        return this.handleAppendEntries(m);
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        return this.handleHeartbeat(m);
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return undefined;
      case 'voteResp':
      case 'preVoteResp': {
        if (m.type !== myResp) return this.count('unexpected');
        this.trk.recordVote(m.from, !m.reject);
        const { result } = this.trk.tallyVotes();
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign('election');
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return undefined;
      }
      default:
        return this.count('unexpected');
    }
  }

  private handleAppendEntries(m: Message): StepResult {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
      return undefined;
    }
    const last = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last === 'conflict') return this.count('commitConflict');
    if (last !== undefined) {
      this.send({ type: 'appResp', to: m.from, index: last });
      return undefined;
    }
    // Mismatch: hint the last index whose term is at most the leader's term at m.index, so the
    // leader can skip a whole term per round trip.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: 'appResp',
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
    return undefined;
  }

  private handleHeartbeat(m: Message): StepResult {
    let result: StepResult;
    if (m.commit > this.log.lastIndex()) result = this.count('commitBeyondLog');
    else this.log.commitTo(m.commit);
    this.send(
      m.context === undefined
        ? { type: 'heartbeatResp', to: m.from }
        : { type: 'heartbeatResp', to: m.from, context: m.context },
    );
    return result;
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (this.restore(s)) this.send({ type: 'appResp', to: m.from, index: this.log.lastIndex() });
    else this.send({ type: 'appResp', to: m.from, index: this.log.committed });
  }

  /** Installs a snapshot from the leader; false when it is not needed (or not for this node). */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    const cs = s.meta.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // The log already holds the snapshot's last entry: just commit up to it.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs);
    this.trk.reset(cs, this.log.lastIndex());
    this.isLearner = this.trk.learners.includes(this.id);
    return true;
  }

  // ---- configuration ----

  /** Applies a committed conf change; returns the configuration after it. */
  applyConfChange(cc: ConfChange): ConfState {
    const next = ProgressTracker.applyChange(this.trk.confState(), cc);
    if (next !== undefined) this.trk.reset(next, this.log.lastIndex());
    return this.switchToConfig();
  }

  private switchToConfig(): ConfState {
    const cs = this.trk.confState();
    const self = this.trk.progress.get(this.id);
    this.isLearner = self?.isLearner === true;
    if ((self === undefined || this.isLearner) && this.role === 'leader') {
      if (this.cfg.stepDownOnRemoval) this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.role !== 'leader' || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      // Probe new members; there is no need to send empty messages to the others.
      for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
    if (this.leadTransferee !== NONE && !this.trk.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
    return cs;
  }
}
