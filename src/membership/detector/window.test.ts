import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IntervalWindow } from './window.js';

function twoPass(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return { mean, variance };
}

describe('IntervalWindow', () => {
  it('keeps the last `capacity` samples, oldest first', () => {
    const w = new IntervalWindow(4, 1);
    for (let i = 1; i <= 10; i++) w.push(i);
    assert.equal(w.size, 4);
    assert.deepEqual(w.values(), [7, 8, 9, 10]);
    assert.equal(w.mean, 8.5);
    assert.equal(w.variance, 1.25);
  });

  it('is empty with mean and variance 0, and clear() empties it', () => {
    const w = new IntervalWindow(3);
    assert.equal(w.mean, 0);
    assert.equal(w.variance, 0);
    w.push(5);
    w.push(7);
    w.clear();
    assert.equal(w.size, 0);
    assert.deepEqual(w.values(), []);
    w.push(2);
    assert.equal(w.mean, 2);
  });

  it('rejects non-finite samples and bad capacities (programming errors)', () => {
    const w = new IntervalWindow(2);
    assert.throws(() => w.push(Number.NaN), { code: 'ASSERTION_FAILED' });
    assert.throws(() => new IntervalWindow(0), { code: 'ASSERTION_FAILED' });
  });

  it('matches a two-pass recomputation after any sequence of pushes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.double({ min: 0, max: 20_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (capacity, samples) => {
          const w = new IntervalWindow(capacity, 1);
          for (const s of samples) w.push(s);
          const expected = samples.slice(-capacity);
          assert.deepEqual(w.values(), expected);
          const { mean, variance } = twoPass(expected);
          assert.ok(
            Math.abs(w.mean - mean) <= 1e-9 * Math.max(1, Math.abs(mean)),
            `mean ${w.mean} vs ${mean}`,
          );
          // Variance is checked against the spread of the data it came from.
          const scale = Math.max(1, ...samples.map((s) => s * s));
          assert.ok(Math.abs(w.variance - variance) <= 1e-9 * scale, `variance ${w.variance} vs ${variance}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not drift over a million replacements (periodic exact resync)', () => {
    const w = new IntervalWindow(100);
    let x = 12345;
    const last: number[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const v = 900 + (x % 200) + 0.123;
      w.push(v);
      if (i >= 1_000_000 - 100) last.push(v);
    }
    const { mean, variance } = twoPass(last);
    assert.ok(Math.abs(w.mean - mean) / mean < 1e-12);
    assert.ok(Math.abs(w.variance - variance) / variance < 1e-9);
  });
});
