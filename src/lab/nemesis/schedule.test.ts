import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../core/index.js';
import { hostRules, makePartition, PARTITION_SHAPES } from './faults.js';
import { planSchedule, type ScheduleOptions } from './schedule.js';

const TIMING = {
  quietMs: [1_000, 3_000],
  netFaultMs: [2_000, 6_000],
  killMs: [5_000, 8_000],
  pauseMs: [1_000, 6_000],
  skewMs: [3_000, 5_000],
} as const;

function options(
  seed: number,
  kinds: ScheduleOptions['kinds'] = ['partition', 'loss', 'kill', 'pause', 'skew'],
) {
  return { seed, nodes: 5, kinds, durationMs: 120_000, timing: TIMING, lossPercent: 20, maxSkewMs: 60_000 };
}

describe('planSchedule', () => {
  it('is a function of the seed', () => {
    assert.deepEqual(planSchedule(options(7)), planSchedule(options(7)));
    assert.notDeepEqual(planSchedule(options(7)), planSchedule(options(8)));
  });

  it('keeps faults of one lane apart, within the duration and their ranges, and uses only enabled kinds', () => {
    for (let seed = 0; seed < 50; seed++) {
      const faults = planSchedule(options(seed, ['loss', 'kill', 'pause']));
      assert.ok(faults.length > 4, `seed=${seed}: ${faults.length} faults`);
      for (const lane of ['net', 'process']) {
        const mine = faults.filter((f) => f.lane === lane);
        for (let i = 1; i < mine.length; i++) {
          assert.ok(
            mine[i]!.startMs - mine[i - 1]!.endMs >= TIMING.quietMs[0],
            `seed=${seed}: lane ${lane} overlaps`,
          );
        }
      }
      for (const f of faults) {
        assert.ok(['loss', 'kill', 'pause'].includes(f.fault.kind), `seed=${seed}`);
        assert.ok(f.endMs <= 120_000 && f.startMs >= TIMING.quietMs[0], `seed=${seed}`);
        if (f.fault.kind === 'kill') assert.ok(f.endMs - f.startMs >= TIMING.killMs[0], `seed=${seed}`);
      }
      assert.deepEqual(
        faults.map((f) => f.id),
        faults.map((_, i) => i),
      );
    }
  });

  it('draws skews at least a second away from zero and at most the maximum', () => {
    const skews = planSchedule({ ...options(3, ['skew']), durationMs: 2_000_000 }).flatMap((f) =>
      f.fault.kind === 'skew' ? [f.fault.offsetMs] : [],
    );
    assert.ok(skews.length > 100);
    assert.ok(skews.every((s) => Math.abs(s) >= 1000 && Math.abs(s) <= 60_000));
    assert.ok(skews.some((s) => s < 0) && skews.some((s) => s > 0));
  });

  it('refuses a bad loss rate naming it', () => {
    assert.throws(() => planSchedule({ ...options(1), lossPercent: 0 }), /loss rate must be 1-100/);
  });
});

describe('partitions', () => {
  it('cut what each shape says and nothing else', () => {
    for (let seed = 0; seed < 20; seed++) {
      for (const shape of PARTITION_SHAPES) {
        const p = makePartition(shape, 5, Rng.fromSeed(seed));
        assert.ok(p?.kind === 'partition');
        const cut = (a: number, b: number) => p.cuts.some((c) => c.from === a && c.to === b);
        const blockedBoth = [0, 1, 2, 3, 4].map(
          (a) => [0, 1, 2, 3, 4].filter((b) => cut(a, b) && cut(b, a)).length,
        );
        switch (shape) {
          case 'isolate':
            assert.equal(blockedBoth.filter((c) => c === 4).length, 1, `seed=${seed}`);
            assert.equal(p.cuts.length, 8);
            break;
          case 'halves':
            assert.equal(p.cuts.length, 12, `seed=${seed}`);
            break;
          case 'bridge':
            // One node (the bridge) is cut from nobody; the 4 others are split 2 | 2.
            assert.equal(blockedBoth.filter((c) => c === 0).length, 1, `seed=${seed}`);
            assert.equal(p.cuts.length, 8);
            break;
          case 'oneway':
            assert.equal(p.cuts.length, 6);
            assert.ok(
              p.cuts.every((c) => !cut(c.to, c.from)),
              `seed=${seed}: a one-way cut goes both ways`,
            );
            break;
        }
      }
    }
    assert.equal(makePartition('bridge', 2, Rng.fromSeed(1)), undefined);
  });

  it('become per-host drop lists and loss', () => {
    const rules = hostRules(3, [
      { kind: 'partition', shape: 'oneway', cuts: [{ from: 0, to: 2 }], describe: '' },
      { kind: 'loss', percent: 30, describe: '' },
    ]);
    assert.deepEqual(rules, [
      { dropFrom: [], lossPercent: 30 },
      { dropFrom: [], lossPercent: 30 },
      { dropFrom: [0], lossPercent: 30 },
    ]);
  });
});
