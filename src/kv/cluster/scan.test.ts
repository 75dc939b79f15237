import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../core/index.js';
import { inTokenRange } from '../ring/partitioner.js';
import { Ring, randomTokens } from '../ring/ring.js';
import { cursorFor, MAX_TOKEN, scanInterval } from './scan.js';

/**
 * Scan intervals: walking them from token 0 visits every ring position once, in order, each
 * interval inside one ring range. Seeded; replay one seed with
 * `CAIRN_SEED=<seed> node --import tsx --test src/kv/cluster/scan.test.ts`.
 */

const seeds =
  process.env.CAIRN_SEED !== undefined ? [Number(process.env.CAIRN_SEED)] : [1, 2, 3, 4, 5, 6, 7, 8];

describe('scan intervals', () => {
  for (const seed of seeds) {
    it(`tile the token space in order (seed=${seed})`, () => {
      const rng = Rng.fromSeed(seed);
      const nodes = Array.from({ length: 1 + rng.int(4) }, (_, i) => ({
        name: `n${i}`,
        tokens: randomTokens(rng, 1 + rng.int(4), new Set()),
        status: 'normal' as const,
      }));
      const ring = Ring.build(nodes, 3);
      const ranges = ring.ranges();
      let from = 0n;
      let steps = 0;
      for (; steps < 1000; steps++) {
        const { range, owner } = scanInterval(ranges, from);
        // The interval starts at `from` and lies inside its owner.
        assert.ok(inTokenRange(from, range), `seed=${seed}: ${from} in its own interval`);
        assert.ok(
          inTokenRange(from, owner) && inTokenRange(range.end, owner),
          `seed=${seed}: inside the owner`,
        );
        assert.ok(range.end >= from);
        // A few random tokens of the interval belong to the owner too.
        for (let k = 0; k < 3; k++) {
          const span = range.end - from;
          const t = from + (span === 0n ? 0n : (BigInt(rng.u32()) * span) / 0xffffffffn);
          assert.ok(inTokenRange(t, owner), `seed=${seed}: token ${t} of the interval is in the owner`);
        }
        if (range.end === MAX_TOKEN) break;
        from = range.end + 1n;
      }
      assert.ok(steps <= ranges.length, `seed=${seed}: ${steps} intervals for ${ranges.length} ranges`);
    });
  }

  it('encodes positions as cursors with 0 meaning done', () => {
    assert.equal(cursorFor(0n), 1n);
    assert.equal(cursorFor(MAX_TOKEN), MAX_TOKEN + 1n);
    assert.equal(cursorFor(MAX_TOKEN + 1n), 0n);
  });
});
