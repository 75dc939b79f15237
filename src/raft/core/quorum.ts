import type { NodeId } from '../types.js';

/**
 * Majority quorum arithmetic over a set of voters (etcd-io/raft's quorum.MajorityConfig). Pure
 * functions; the property test in quorum.test.ts checks them against a brute-force oracle.
 */

/** The outcome of a vote: won, lost, or still open. */
export type VoteResult = 'won' | 'lost' | 'pending';

/** The number of votes that make a majority of `n` voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index that a majority of `voters` have acknowledged, given each voter's match
 * index (`undefined` counts as 0). With no voters it is `Infinity`, as in etcd (an empty
 * configuration does not hold back commit; the core never commits without a voter).
 */
export function committedIndex(
  voters: readonly NodeId[],
  matchOf: (id: NodeId) => number | undefined,
): number {
  const n = voters.length;
  if (n === 0) return Number.POSITIVE_INFINITY;
  const matches = voters.map((id) => matchOf(id) ?? 0);
  matches.sort((a, b) => b - a);
  return matches[majority(n) - 1]!;
}

/**
 * The result of a vote among `voters`, where `votes` holds each answer received (true granted).
 * Answers from non-voters are ignored. With no voters the vote is won (etcd's convention).
 */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = majority(voters.length);
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}
