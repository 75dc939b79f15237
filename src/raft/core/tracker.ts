import type { ConfChange, ConfState, NodeId } from '../types.js';
import { Progress } from './progress.js';
import { committedIndex, type VoteResult, voteResult } from './quorum.js';

/**
 * The configuration (voters and learners), a {@link Progress} per member, and the votes of the
 * current election (etcd-io/raft's tracker.ProgressTracker, without joint consensus: Cairn makes
 * single-server changes only).
 */
export class ProgressTracker {
  private votersSorted: NodeId[] = [];
  private learnersSorted: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(private readonly maxInflight: number) {}

  /** The voters, ascending. */
  get voters(): readonly NodeId[] {
    return this.votersSorted;
  }

  /** The learners, ascending. */
  get learners(): readonly NodeId[] {
    return this.learnersSorted;
  }

  /** The configuration as a {@link ConfState}. */
  confState(): ConfState {
    return { voters: [...this.votersSorted], learners: [...this.learnersSorted] };
  }

  isVoter(id: NodeId): boolean {
    return this.votersSorted.includes(id);
  }

  /** True when the only voter is `id`. */
  isSingleton(id: NodeId): boolean {
    return this.votersSorted.length === 1 && this.votersSorted[0] === id;
  }

  /**
   * Replaces the configuration with `cs`: new members get a fresh progress with `next` at
   * `lastIndex` (so the first probe confirms the last entry) and marked recently active (so a
   * check-quorum right after the change does not count them as silent); members that stay keep
   * theirs; members that left lose theirs.
   */
  reset(cs: ConfState, lastIndex: number): void {
    this.votersSorted = [...new Set(cs.voters)].sort((a, b) => a - b);
    const voterSet = new Set(this.votersSorted);
    this.learnersSorted = [...new Set(cs.learners)].filter((id) => !voterSet.has(id)).sort((a, b) => a - b);
    const members = new Set([...this.votersSorted, ...this.learnersSorted]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const isLearner = !voterSet.has(id);
      const pr = this.progress.get(id);
      if (pr === undefined) {
        this.progress.set(
          id,
          new Progress({
            match: 0,
            next: Math.max(lastIndex, 1),
            maxInflight: this.maxInflight,
            isLearner,
            recentActive: true,
          }),
        );
      } else {
        pr.isLearner = isLearner;
      }
    }
  }

  /**
   * The configuration after one single-server change, or `undefined` when the change is refused
   * (`addLearner` on a voter) or changes nothing.
   */
  static applyChange(cs: ConfState, cc: ConfChange): ConfState | undefined {
    const voters = new Set(cs.voters);
    const learners = new Set(cs.learners);
    switch (cc.type) {
      case 'addNode':
        if (voters.has(cc.nodeId)) return undefined;
        learners.delete(cc.nodeId);
        voters.add(cc.nodeId);
        break;
      case 'addLearner':
        if (voters.has(cc.nodeId) || learners.has(cc.nodeId)) return undefined;
        learners.add(cc.nodeId);
        break;
      case 'removeNode':
        if (!voters.has(cc.nodeId) && !learners.has(cc.nodeId)) return undefined;
        voters.delete(cc.nodeId);
        learners.delete(cc.nodeId);
        break;
    }
    const asc = (a: number, b: number) => a - b;
    return { voters: [...voters].sort(asc), learners: [...learners].sort(asc) };
  }

  /** The highest index acknowledged by a majority of voters. */
  committed(): number {
    return committedIndex(this.votersSorted, (id) => this.progress.get(id)?.match);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records `id`'s first answer in this election (later answers from it are ignored). */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.votersSorted) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: voteResult(this.votersSorted, this.votes) };
  }

  /** True when a quorum of voters (counting `self`) was recently active. */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const id of this.votersSorted) {
      const pr = this.progress.get(id);
      votes.set(id, id === self || pr?.recentActive === true);
    }
    return voteResult(this.votersSorted, votes) === 'won';
  }
}
