/**
 * Partitioner: XXH64 tokens, their byte form, and token-range membership.
 * Run: node --import tsx --test src/kv/ring/partitioner.test.ts
 * Property seeds: FC_SEED=<seed> replays (fast-check prints the seed on failure).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareBytes, utf8 } from '../../core/index.js';
import {
  inTokenRange,
  MAX_TOKEN,
  RING_SIZE,
  rangeWidth,
  readToken,
  tokenBytes,
  tokenOf,
} from './partitioner.js';

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const params = { seed, numRuns: 300 };
const token = fc.bigInt({ min: 0n, max: MAX_TOKEN });

describe('tokenOf', () => {
  it('is XXH64 with seed 0 (reference vectors pin the on-disk format)', () => {
    assert.equal(tokenOf(new Uint8Array(0)), 0xef46db3751d8e999n);
    assert.equal(tokenOf(utf8('abc')), 0x44bc2cf5ad770999n);
  });

  it('spreads keys evenly over 16 slices of the ring', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[Number(tokenOf(utf8(`key:${i}`)) >> 60n)]!++;
    // Each bucket expects 1,000; a fair hash stays within +-20% with overwhelming probability.
    for (const b of buckets) assert.ok(b > 800 && b < 1200, `bucket ${b}`);
  });
});

describe('tokenBytes', () => {
  it('round-trips and sorts like the tokens', () => {
    fc.assert(
      fc.property(token, token, (a, b) => {
        assert.equal(readToken(tokenBytes(a)), a);
        const byBytes = Math.sign(compareBytes(tokenBytes(a), tokenBytes(b)));
        assert.equal(byBytes, a < b ? -1 : a > b ? 1 : 0);
      }),
      params,
    );
    assert.deepEqual([...tokenBytes(MAX_TOKEN)], [255, 255, 255, 255, 255, 255, 255, 255]);
  });
});

describe('inTokenRange', () => {
  it('follows (start, end] with wrapping and the whole ring for start === end', () => {
    assert.ok(!inTokenRange(10n, { start: 10n, end: 20n }));
    assert.ok(inTokenRange(20n, { start: 10n, end: 20n }));
    assert.ok(inTokenRange(MAX_TOKEN, { start: 20n, end: 10n }));
    assert.ok(inTokenRange(0n, { start: 20n, end: 10n }));
    assert.ok(!inTokenRange(15n, { start: 20n, end: 10n }));
    assert.ok(inTokenRange(5n, { start: 7n, end: 7n }));
    assert.equal(rangeWidth({ start: 7n, end: 7n }), RING_SIZE);
    assert.equal(rangeWidth({ start: MAX_TOKEN, end: 3n }), 4n);
  });

  it('holds exactly rangeWidth tokens (checked on a small window around the bounds)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 40n }), fc.bigInt({ min: 0n, max: 40n }), (a, b) => {
        // Window coordinates s <= e, shifted across the wrap point: ranges that cross 2^64 and
        // ranges that do not, all contained in the window.
        const [s, e] = a <= b ? [a, b] : [b, a];
        const shift = RING_SIZE - 20n;
        const r = { start: (s + shift) % RING_SIZE, end: (e + shift) % RING_SIZE };
        let count = 0n;
        for (let i = 0n; i < 41n; i++) if (inTokenRange((i + shift) % RING_SIZE, r)) count++;
        const expected = r.start === r.end ? 41n : rangeWidth(r);
        assert.equal(count, expected);
      }),
      params,
    );
  });
});
