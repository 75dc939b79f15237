import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NodeIdentity } from '../security/index.js';
import { ReplayWindows } from './replay-window.js';

const a = NodeIdentity.fromSeed(new Uint8Array(32).fill(1)).nodeId;
const b = NodeIdentity.fromSeed(new Uint8Array(32).fill(2)).nodeId;

describe('ReplayWindows', () => {
  it('accepts each sequence once, out of order within the window, and refuses older ones', () => {
    const w = new ReplayWindows({ windowSize: 8 });
    assert.equal(w.accept(a, 5, 3), 'fresh');
    assert.equal(w.accept(a, 5, 3), 'replay');
    assert.equal(w.accept(a, 5, 10), 'fresh');
    assert.equal(w.accept(a, 5, 4), 'fresh'); // 6 below the highest: inside the window
    assert.equal(w.accept(a, 5, 4), 'replay');
    assert.equal(w.accept(a, 5, 2), 'too-old');
    assert.equal(w.accept(a, 5, 10), 'replay');
    assert.equal(w.accept(b, 5, 10), 'fresh', 'windows are per sender');
  });

  it('resets on a newer generation and refuses older ones, also below the member table', () => {
    const w = new ReplayWindows();
    assert.equal(w.accept(a, 5, 9), 'fresh');
    assert.equal(w.accept(a, 6, 1), 'fresh');
    assert.equal(w.accept(a, 5, 10), 'old-generation');
    // Forgotten or never seen: the member table's generation still refuses an older run.
    assert.equal(w.accept(b, 4, 1, 5), 'old-generation');
  });

  it('forgets the least recently heard sender beyond its bound, strangers apart from members', () => {
    const w = new ReplayWindows({ maxSenders: 1, maxStrangers: 1 });
    w.accept(a, 1, 1, 1); // a member
    w.accept(b, 1, 1);
    const fresh = NodeIdentity.fromSeed(new Uint8Array(32).fill(3)).nodeId;
    w.accept(fresh, 1, 1); // a stranger's window pushes out b's, never a's
    assert.equal(w.size, 2);
    assert.equal(w.accept(a, 1, 1, 1), 'replay');
    assert.equal(w.accept(b, 1, 1), 'fresh', 'b was forgotten');
  });

  it('matches a set of everything seen, within the window (model check)', () => {
    const size = 16;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), (seqs) => {
        const w = new ReplayWindows({ windowSize: size });
        const seen = new Set<number>();
        let highest = 0;
        for (const s of seqs) {
          const expected = seen.has(s) ? 'replay' : s <= highest - size ? 'too-old' : 'fresh';
          const got = w.accept(a, 1, s);
          // A seen sequence that fell out of the window is refused as too old: refused either way.
          if (expected === 'replay' && got === 'too-old') continue;
          assert.equal(got, expected, `seq ${s} after ${[...seen]}`);
          if (got === 'fresh') {
            seen.add(s);
            highest = Math.max(highest, s);
          }
        }
      }),
    );
  });
});
