/**
 * Ordering of claims about a member, the rule every SWIM receiver applies before it changes its
 * table (see the brick's DESIGN.md, "Identities and ordering").
 *
 * A claim is `(generation, incarnation, status)`. Claims are ordered lexicographically, with the
 * status ranked `alive < suspect < dead < left`: at equal generation and incarnation an
 * accusation wins over `alive` until the member refutes it with a higher incarnation, and the
 * member's own graceful `left` wins over `dead` (it is the better-informed statement).
 */

/** The status of a member in the table. */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** Precedence of statuses at equal generation and incarnation. */
export const STATUS_RANK: Readonly<Record<MemberStatus, number>> = Object.freeze({
  alive: 0,
  suspect: 1,
  dead: 2,
  left: 3,
});

/** A statement about a member's state. */
export interface Claim {
  readonly generation: number;
  readonly incarnation: number;
  readonly status: MemberStatus;
}

/** Negative, zero or positive as `a` orders before, equal to or after `b`. */
export function compareClaims(a: Claim, b: Claim): number {
  if (a.generation !== b.generation) return a.generation < b.generation ? -1 : 1;
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1;
  return STATUS_RANK[a.status] - STATUS_RANK[b.status];
}

/**
 * What a receiver does with a claim about a member it knows (`current`):
 * - `apply`: the claim is newer; the member takes the claim's state.
 * - `confirm`: a suspicion of a member already suspect at the same generation and incarnation:
 *   one more (possibly independent) confirmation, no state change. A suspicion at a higher
 *   incarnation is a new suspicion (`apply`): the member was seen alive since, so its timer
 *   starts over rather than inheriting the old one's confirmations.
 * - `stale`: the claim is older than, or equal to, what is known; ignored.
 * - `unknown-generation`: an accusation (suspect/dead) about a newer generation than known;
 *   ignored until that generation's alive record arrives (it carries the address).
 *
 * An unknown member is the caller's case: only an `alive` (or the member's own `left`, which is
 * ignored) can introduce one.
 */
export type ClaimDecision = 'apply' | 'confirm' | 'stale' | 'unknown-generation';

/** Decides a claim against the current state; see {@link ClaimDecision}. */
export function decideClaim(current: Claim, claim: Claim): ClaimDecision {
  if (claim.generation > current.generation) {
    return claim.status === 'suspect' || claim.status === 'dead' ? 'unknown-generation' : 'apply';
  }
  if (claim.generation < current.generation) return 'stale';
  if (
    claim.status === 'suspect' &&
    current.status === 'suspect' &&
    claim.incarnation === current.incarnation
  ) {
    return 'confirm';
  }
  return compareClaims(claim, current) > 0 ? 'apply' : 'stale';
}
