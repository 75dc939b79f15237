import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Inflights } from './inflights.js';
import { Progress } from './progress.js';
import { committedIndex, voteResult } from './quorum.js';

describe('quorum arithmetic against a brute-force oracle', () => {
  it('committedIndex is the largest index a majority has reached', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 7 }), (matches) => {
        const ids = matches.map((_, i) => i + 1);
        const got = committedIndex(ids, (id) => matches[id - 1]);
        // Oracle: the largest m such that more than half have match >= m.
        let want = 0;
        for (let m = 0; m <= 50; m++) if (matches.filter((x) => x >= m).length * 2 > matches.length) want = m;
        assert.equal(got, want);
      }),
    );
  });

  it('voteResult is won with a majority of grants, lost when a majority cannot be reached', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(true, false, undefined), { minLength: 1, maxLength: 7 }),
        (answers) => {
          const ids = answers.map((_, i) => i + 1);
          const votes = new Map<number, boolean>();
          answers.forEach((a, i) => {
            if (a !== undefined) votes.set(i + 1, a);
          });
          votes.set(99, true); // a non-voter's answer never counts
          const yes = answers.filter((a) => a === true).length;
          const open = answers.filter((a) => a === undefined).length;
          const q = Math.floor(answers.length / 2) + 1;
          const want = yes >= q ? 'won' : yes + open >= q ? 'pending' : 'lost';
          assert.equal(voteResult(ids, votes), want);
        },
      ),
    );
  });
});

describe('progress and inflights', () => {
  it('the window fills, frees up to an acknowledged index, and frees one on a heartbeat', () => {
    const w = new Inflights(3);
    w.add(5);
    w.add(7);
    w.add(9);
    assert.equal(w.full(), true);
    w.freeLE(7);
    assert.equal(w.count, 1);
    w.add(12);
    w.add(13);
    w.freeFirstOne();
    assert.equal(w.count, 2);
  });

  it('a stale rejection is ignored; a probe rejection backs off to the hint but never below match', () => {
    const pr = new Progress({ match: 3, next: 10, maxInflight: 4, isLearner: false, recentActive: true });
    assert.equal(pr.maybeDecrTo(5, 4), false, 'answers an older probe');
    assert.equal(pr.maybeDecrTo(9, 1), true);
    assert.equal(pr.next, 4);
    pr.becomeReplicate();
    pr.optimisticUpdate(8);
    assert.equal(pr.maybeDecrTo(2, 0), false, 'below match: stale');
    assert.equal(pr.maybeDecrTo(6, 0), true);
    assert.equal(pr.next, 4);
  });
});
