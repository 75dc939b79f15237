import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Claim, compareClaims, decideClaim, type MemberStatus } from './claims.js';

const STATUSES: MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

/** The reference: a claim as one number per generation, status as the lowest digit. */
function model(current: Claim, claim: Claim): string {
  const order = (c: Claim) => c.incarnation * 4 + STATUSES.indexOf(c.status);
  if (claim.generation > current.generation) {
    return claim.status === 'suspect' || claim.status === 'dead' ? 'unknown-generation' : 'apply';
  }
  if (claim.generation < current.generation) return 'stale';
  if (order(claim) === order(current) && claim.status === 'suspect') return 'confirm';
  return order(claim) > order(current) ? 'apply' : 'stale';
}

const claimArb = fc.record({
  generation: fc.integer({ min: 0, max: 3 }),
  incarnation: fc.integer({ min: 0, max: 4 }),
  status: fc.constantFrom(...STATUSES),
});

describe('claim ordering', () => {
  it('matches the reference model', () => {
    fc.assert(
      fc.property(claimArb, claimArb, (current, claim) => {
        assert.equal(decideClaim(current, claim), model(current, claim));
      }),
      { numRuns: 2000 },
    );
  });

  it('follows the precedence rules by example', () => {
    const c = (generation: number, incarnation: number, status: MemberStatus): Claim => ({
      generation,
      incarnation,
      status,
    });
    assert.equal(decideClaim(c(1, 0, 'alive'), c(1, 0, 'suspect')), 'apply');
    assert.equal(decideClaim(c(1, 0, 'suspect'), c(1, 0, 'alive')), 'stale'); // refute needs inc + 1
    assert.equal(decideClaim(c(1, 0, 'suspect'), c(1, 1, 'alive')), 'apply');
    assert.equal(decideClaim(c(1, 0, 'suspect'), c(1, 0, 'suspect')), 'confirm');
    assert.equal(decideClaim(c(1, 0, 'suspect'), c(1, 1, 'suspect')), 'apply'); // a new suspicion
    assert.equal(decideClaim(c(1, 0, 'dead'), c(1, 0, 'left')), 'apply'); // own leave beats dead
    assert.equal(decideClaim(c(1, 0, 'left'), c(1, 0, 'dead')), 'stale');
    assert.equal(decideClaim(c(1, 5, 'dead'), c(2, 0, 'alive')), 'apply'); // restart
    assert.equal(decideClaim(c(1, 5, 'alive'), c(2, 0, 'dead')), 'unknown-generation');
    assert.equal(decideClaim(c(2, 0, 'alive'), c(1, 9, 'alive')), 'stale');
  });

  it('converges to the greatest claim of a generation in any delivery order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ incarnation: fc.integer({ min: 0, max: 5 }), status: fc.constantFrom(...STATUSES) }),
          {
            maxLength: 12,
          },
        ),
        fc.integer(),
        (items, seed) => {
          const claims: Claim[] = items.map((x) => ({ generation: 7, ...x }));
          const start: Claim = { generation: 7, incarnation: 0, status: 'alive' };
          const run = (order: Claim[]) => {
            let state = start;
            for (const claim of order) if (decideClaim(state, claim) === 'apply') state = claim;
            return state;
          };
          const shuffled = [...claims];
          let s = seed;
          for (let i = shuffled.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) | 0;
            const j = Math.abs(s) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const expected = [start, ...claims].reduce((a, b) => (compareClaims(b, a) > 0 ? b : a));
          assert.deepEqual(run(claims), expected);
          assert.deepEqual(run(shuffled), expected);
        },
      ),
    );
  });
});
