/**
 * Hybrid logical clock: monotonic versions, skew refusal, node tags.
 * Run: node --import tsx --test src/kv/hlc.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../core/index.js';
import { isKvError } from './errors.js';
import { HybridClock, MAX_LOGICAL, nodeTag } from './hlc.js';
import { compareVersions, type Version } from './types.js';

describe('nodeTag', () => {
  it('is a stable uint32 that differs between names', () => {
    const a = nodeTag('n1');
    assert.equal(a, nodeTag('n1'));
    assert.ok(Number.isInteger(a) && a >= 0 && a <= 0xffffffff);
    assert.notEqual(a, nodeTag('n2'));
    // First four bytes of sha256("n1"), big-endian: pins the tag as a wire format.
    assert.equal(a, 0x676b8bb8);
  });
});

describe('HybridClock', () => {
  it('makes strictly increasing versions while the physical clock stands still or goes back', () => {
    const clock = new ManualClock(5_000.7);
    const hlc = new HybridClock({ clock, node: 7 });
    let prev = hlc.now();
    assert.deepEqual(prev, { wall: 5000, logical: 0, node: 7 });
    for (let i = 0; i < 1000; i++) {
      const next = hlc.now();
      assert.ok(compareVersions(next, prev) > 0);
      prev = next;
    }
    clock.advance(1);
    assert.deepEqual(hlc.now(), { wall: 5001, logical: 0, node: 7 });
  });

  it('moves wall one ms ahead when the logical counter would overflow', () => {
    const clock = new ManualClock(100);
    const hlc = new HybridClock({ clock, node: 1 });
    let last: Version = hlc.now();
    for (let i = 0; i < MAX_LOGICAL; i++) last = hlc.now();
    assert.deepEqual(last, { wall: 100, logical: MAX_LOGICAL, node: 1 });
    const next = hlc.now();
    assert.deepEqual(next, { wall: 101, logical: 0, node: 1 });
  });

  it('makes versions greater than any observed one within the offset bound', () => {
    const clock = new ManualClock(10_000);
    const hlc = new HybridClock({ clock, node: 1, maxOffsetMs: 500 });
    const remote = { wall: 10_400, logical: 9, node: 2 };
    hlc.observe(remote);
    const v = hlc.now();
    assert.ok(compareVersions(v, remote) > 0);
    assert.equal(v.wall, 10_400);
    assert.equal(v.logical, 10);
    // An older observation changes nothing.
    hlc.observe({ wall: 1, logical: 0, node: 3 });
    assert.ok(compareVersions(hlc.now(), v) > 0);
  });

  it('refuses a version too far ahead with CLOCK_SKEW and does not advance', () => {
    const clock = new ManualClock(10_000);
    const hlc = new HybridClock({ clock, node: 1, maxOffsetMs: 500 });
    assert.throws(
      () => hlc.observe({ wall: 10_501, logical: 0, node: 2 }),
      (e) => isKvError(e, 'CLOCK_SKEW'),
    );
    assert.deepEqual(hlc.now(), { wall: 10_000, logical: 0, node: 1 });
    hlc.observe({ wall: 10_500, logical: 0, node: 2 });
    assert.equal(hlc.now().wall, 10_500);
  });

  it('refuses malformed versions with INVALID_ARGUMENT', () => {
    const hlc = new HybridClock({ clock: new ManualClock(), node: 1 });
    for (const bad of [
      { wall: -1, logical: 0, node: 0 },
      { wall: 1.5, logical: 0, node: 0 },
      { wall: 1, logical: MAX_LOGICAL + 1, node: 0 },
      { wall: 1, logical: 0, node: 2 ** 32 },
      null,
    ]) {
      assert.throws(
        () => hlc.observe(bad as unknown as Version),
        (e) => isKvError(e, 'INVALID_ARGUMENT'),
      );
    }
    assert.throws(
      () => new HybridClock({ clock: new ManualClock(), node: -1 }),
      (e) => isKvError(e, 'INVALID_ARGUMENT'),
    );
  });
});
