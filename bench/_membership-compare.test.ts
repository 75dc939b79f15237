import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lanConfig } from '../src/membership/index.js';
import { compareFigures, configDifferences } from './_membership-compare.js';

describe('membership bench comparison', () => {
  it('divides Cairn by memberlist and checks each goal', () => {
    const goals = compareFigures(
      { join_ms: 2_000, update_ms: 150, detect_ms: 9_000 },
      { join_ms: 2_500, update_ms: 600, detect_ms: 9_000, timed_out: [] },
      60_000,
    );
    assert.deepEqual(goals.join, { ratio: 0.8, max_ratio: 1, goal_ms: 2_500, met: true });
    assert.deepEqual(goals.update, { ratio: 0.25, max_ratio: 0.5, goal_ms: 300, met: true });
    assert.deepEqual(goals.detect, { ratio: 1, max_ratio: 0.7, goal_ms: 6_300, met: false });
  });

  it('bounds the ratio by the deadline when only memberlist timed out, and decides nothing unmeasured', () => {
    const goals = compareFigures(
      { join_ms: 6_000, update_ms: null, detect_ms: 9_000 },
      { join_ms: null, update_ms: 600, detect_ms: null, timed_out: ['join'] },
      60_000,
    );
    assert.deepEqual(goals.join, { ratio: null, ratio_at_most: 0.1, max_ratio: 1, goal_ms: null, met: true });
    assert.equal(goals.update.met, null, 'Cairn timed out');
    assert.equal(goals.detect.met, null, 'memberlist has no figure and no timeout');
    assert.equal(
      compareFigures({ join_ms: 1, update_ms: 1, detect_ms: 1 }, undefined, 60_000).join.met,
      null,
    );
  });

  it('lists the constants that differ from what the harness reports', () => {
    const theirs = { probeIntervalMs: 1000, probeTimeoutMs: 500, compression: true, handoffQueueDepth: 1024 };
    const differences = configDifferences(lanConfig({ swim: { probeTimeoutMs: 400 } }), theirs);
    const names = differences.map((d) => d.name);
    assert.ok(names.includes('probeTimeoutMs'));
    assert.ok(names.includes('compression'));
    assert.ok(names.includes('handoffQueueDepth'), 'a constant Cairn lacks is listed');
    assert.ok(!names.includes('probeIntervalMs'));
  });
});
