import { Inflights } from './inflights.js';

/** How a leader currently replicates to one follower. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * A leader's view of one follower (etcd-io/raft's tracker.Progress).
 *
 * - `probe`: the leader does not know where the follower's log matches; it sends one `app` per
 *   heartbeat interval and waits for the answer (`probeSent`).
 * - `replicate`: the follower is caught up to `match`; the leader streams entries optimistically
 *   (`next` moves ahead on send) within the inflights window.
 * - `snapshot`: the follower needs a snapshot at `pendingSnapshot`; nothing else is sent until
 *   the driver reports the snapshot's fate.
 *
 * Invariant: `match < next`.
 */
export class Progress {
  match: number;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an `app` was sent and not yet answered; pauses sending. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /**
   * The highest commit index this follower was told of for entries it holds (by an `app`, capped
   * at the last index the `app` reaches, or by a heartbeat), this term. Only a belief: the message
   * may be lost, and heartbeats repeat the commit anyway. Read by the deferred commit notices
   * (`deferCommitOnlyAppends`).
   */
  sentCommit = 0;
  /**
   * `match` when the previous heartbeat response arrived (-1 before any): a replicating follower
   * whose match stood still since gets an empty `app` to answer (`deferCommitOnlyAppends`).
   */
  matchAtBeat = -1;
  /** Heard from since the last check-quorum round (the leader itself is always active). */
  recentActive: boolean;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(opts: {
    match: number;
    next: number;
    maxInflight: number;
    isLearner: boolean;
    recentActive: boolean;
  }) {
    this.match = opts.match;
    this.next = opts.next;
    this.inflights = new Inflights(opts.maxInflight);
    this.isLearner = opts.isLearner;
    this.recentActive = opts.recentActive;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Back to probing; after a snapshot, probing starts past the snapshot. */
  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
    // What was sent past `next` may not have arrived (as etcd-io/raft's sentCommit).
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
  }

  /** Start streaming from just past `match`. */
  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  /** Wait for the snapshot at `index` to reach the follower. */
  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** Records an acknowledgement up to `index`; true when it moved `match` forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Optimistically moves `next` past entries just sent (replicate state). */
  optimisticUpdate(lastSent: number): void {
    this.next = lastSent + 1;
  }

  /**
   * Handles a rejection of the `app` at `rejected` whose follower hinted at `matchHint`. Returns
   * false when the rejection is stale (it answers an older message) and must be ignored.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.next - 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.probeSent = false;
    return true;
  }

  /** True when the leader must not send entries to this follower now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
