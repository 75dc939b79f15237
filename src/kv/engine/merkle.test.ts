/**
 * Merkle trees: equal replicas agree, differing cells are found and only their leaves are named,
 * leaves partition the range, the byte form is validated.
 * Run: node --import tsx --test src/kv/engine/merkle.test.ts
 * Property seeds: the seed is printed on failure; replay with FC_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isCairnError, ManualClock, utf8 } from '../../core/index.js';
import { MemoryStorage } from '../../sim/disk.js';
import { inTokenRange, MAX_TOKEN, RING_SIZE, rangeWidth, tokenOf } from '../ring/partitioner.js';
import type { Cell, TokenRange } from '../types.js';
import { MerkleBuilder, MerkleTree } from './merkle.js';
import { ReplicaStore } from './replica-store.js';

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const params = { seed, numRuns: 100 };
const token = fc.bigInt({ min: 0n, max: MAX_TOKEN });
const rangeArb: fc.Arbitrary<TokenRange> = fc.record({ start: token, end: token });

const cell = (wall: number, value?: string): Cell => ({
  version: { wall, logical: 0, node: 1 },
  value: value === undefined ? undefined : utf8(value),
});

describe('MerkleBuilder leaves', () => {
  it('puts every token of the range in a leaf whose range holds it', () => {
    fc.assert(
      fc.property(
        rangeArb,
        fc.integer({ min: 0, max: 16 }),
        fc.array(token, { maxLength: 20 }),
        (range, depth, ts) => {
          const b = new MerkleBuilder(range, depth);
          const tree = b.finish();
          const probes = [...ts, (range.start + 1n) % RING_SIZE, range.end].filter((t) =>
            inTokenRange(t, range),
          );
          for (const t of probes) {
            const leaf = b.leafOf(t);
            assert.ok(leaf >= 0 && leaf < 1 << depth, `leaf ${leaf}`);
            assert.ok(inTokenRange(t, tree.leafRange(leaf)), `token ${t} outside leaf ${leaf}`);
          }
        },
      ),
      params,
    );
  });

  it('splits the range into leaves whose widths add up to it', () => {
    fc.assert(
      fc.property(rangeArb, fc.integer({ min: 0, max: 8 }), (range, depth) => {
        const tree = new MerkleBuilder(range, depth).finish();
        let total = 0n;
        for (let i = 0; i < 1 << depth; i++) {
          const r = tree.leafRange(i);
          // An empty leaf (start === end) only occurs when the range is narrower than the leaf count.
          if (r.start !== r.end || (depth === 0 && range.start === range.end)) total += rangeWidth(r);
        }
        assert.equal(total, rangeWidth(range));
      }),
      params,
    );
  });
});

describe('MerkleTree diff', () => {
  it('finds exactly the leaves of the cells that differ (oracle: leaves of differing keys)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { maxLength: 60 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { maxLength: 6 }),
        rangeArb,
        fc.integer({ min: 0, max: 10 }),
        async (shared, differing, range, depth) => {
          const clock = new ManualClock(1_000_000);
          const a = await ReplicaStore.open({ storage: new MemoryStorage(), clock });
          const b = await ReplicaStore.open({ storage: new MemoryStorage(), clock });
          const writes = shared.map((i) => ({ key: utf8(`k${i}`), cell: cell(i + 1, `v${i}`) }));
          await a.apply(writes);
          await b.apply(writes);
          // Differences: b lacks the key, or has a newer version of it.
          const changed = differing.map((i) => utf8(`d${i}`));
          await a.apply(changed.map((key) => ({ key, cell: cell(10, 'x') })));
          await b.apply(changed.filter((_, j) => j % 2 === 0).map((key) => ({ key, cell: cell(11, 'y') })));
          const ta = await a.merkle(range, depth);
          const tb = MerkleTree.decode((await b.merkle(range, depth)).encode());
          const diff = ta.diff(tb);
          const inside = changed.map(tokenOf).filter((t) => inTokenRange(t, range));
          for (const t of inside)
            assert.ok(
              diff.some((r) => inTokenRange(t, r)),
              `token ${t} missed`,
            );
          const builder = new MerkleBuilder(range, depth);
          const leaves = new Set(inside.map((t) => builder.leafOf(t)));
          let width = 0n;
          for (const r of diff) {
            assert.ok(
              inside.some((t) => inTokenRange(t, r)),
              'a range without a differing key',
            );
            width += rangeWidth(r);
          }
          let expected = 0n;
          for (const l of leaves) expected += rangeWidth(ta.leafRange(l));
          assert.equal(width, inside.length === 0 ? 0n : expected);
          assert.deepEqual(tb.diff(ta), diff);
          assert.deepEqual(ta.diff(ta), []);
        },
      ),
      params,
    );
  });

  it('ignores cells past the grace period, which replicas purge at different moments', async () => {
    const clock = new ManualClock(10_000_000);
    const a = await ReplicaStore.open({ storage: new MemoryStorage(), clock, gcGraceMs: 1_000 });
    const b = await ReplicaStore.open({ storage: new MemoryStorage(), clock, gcGraceMs: 1_000 });
    await a.apply([{ key: utf8('gone'), cell: cell(5) }]);
    const whole = { start: 0n, end: 0n };
    assert.deepEqual((await a.merkle(whole, 4)).diff(await b.merkle(whole, 4)), []);
    await a.apply([{ key: utf8('recent'), cell: cell(9_999_500) }]);
    assert.equal((await a.merkle(whole, 4)).diff(await b.merkle(whole, 4)).length, 1);
  });

  it('refuses to compare trees of different ranges or depths', () => {
    const t1 = new MerkleBuilder({ start: 0n, end: 10n }, 2).finish();
    const t2 = new MerkleBuilder({ start: 0n, end: 11n }, 2).finish();
    const t3 = new MerkleBuilder({ start: 0n, end: 10n }, 3).finish();
    assert.throws(
      () => t1.diff(t2),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => t1.diff(t3),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => new MerkleBuilder({ start: 0n, end: 1n }, 17),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
  });
});

describe('MerkleTree byte form', () => {
  it('is 18 + 16 x 2^depth bytes and round-trips', () => {
    const b = new MerkleBuilder({ start: 5n, end: 5n }, 16);
    b.add(77n, utf8('k'), cell(1, 'v'));
    const tree = b.finish();
    const bytes = tree.encode();
    assert.equal(bytes.length, 18 + 16 * 65_536);
    const back = MerkleTree.decode(bytes);
    assert.deepEqual(back.range, tree.range);
    assert.deepEqual(back.root(), tree.root());
    assert.deepEqual(back.diff(tree), []);
  });

  it('refuses malformed bytes with DECODE_FAILED only', () => {
    const good = new MerkleBuilder({ start: 1n, end: 2n }, 2).finish().encode();
    const bad = [new Uint8Array(0), Uint8Array.of(2, ...good.subarray(1)), good.subarray(0, good.length - 1)];
    const deep = good.slice();
    deep[1] = 17;
    bad.push(deep);
    for (const b of bad)
      assert.throws(
        () => MerkleTree.decode(b),
        (e) => isCairnError(e, 'DECODE_FAILED'),
      );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        try {
          MerkleTree.decode(b);
        } catch (e) {
          assert.ok(isCairnError(e, 'DECODE_FAILED'));
        }
      }),
      params,
    );
  });
});
