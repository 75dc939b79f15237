import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/index.js';
import { KeyFilter, StoredKeys } from './key-filter.js';
import { dataKey } from './layout.js';

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const replay = `FC_SEED=${seed} node --import tsx --test src/kv/engine/key-filter.test.ts`;

/** A data key with the token `hi << 32 | lo` and a one-byte user key. */
function keyOf(hi: number, lo: number): Uint8Array {
  return dataKey((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), Uint8Array.of(1));
}

function randomKeys(rng: Rng, n: number): Uint8Array[] {
  return Array.from({ length: n }, () => keyOf(rng.u32(), rng.u32()));
}

describe('KeyFilter', () => {
  it(`holds every key added (seed=${seed}; ${replay})`, () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
          {
            maxLength: 300,
          },
        ),
        fc.integer({ min: 5, max: 12 }),
        (tokens, log2) => {
          const filter = new KeyFilter(2 ** log2);
          const keys = tokens.map(([hi, lo]) => keyOf(hi, lo));
          for (const k of keys) filter.add(k);
          for (const k of keys) assert.equal(filter.mayHold(k), true);
          assert.ok(filter.keys <= keys.length);
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it('answers false for most keys never added, at 20 and at 10 bits per key', () => {
    const rng = Rng.fromSeed(7);
    const added = randomKeys(rng, 5_000);
    const others = randomKeys(rng, 20_000);
    for (const [bits, most] of [
      [2 ** 17, 0.002], // 26 bits per key
      [2 ** 16, 0.02], // 13 bits per key
    ] as const) {
      const filter = new KeyFilter(bits);
      for (const k of added) filter.add(k);
      // A few tokens collide in the table: distinct keys counted, less the ones a collision hid.
      assert.ok(filter.keys > 4_900 && filter.keys <= 5_000, `keys ${filter.keys}`);
      const hits = others.filter((k) => filter.mayHold(k)).length;
      assert.ok(hits / others.length < most, `${hits} false positives of ${others.length} at ${bits} bits`);
    }
  });

  it('refuses a size that is not a power of two in range', () => {
    for (const bits of [0, 16, 100, 2 ** 32, 1.5]) assert.throws(() => new KeyFilter(bits), RangeError);
  });
});

describe('StoredKeys', () => {
  it('says a key may be held until a build finishes, then only for keys added', () => {
    const keys = new StoredKeys(2 ** 20);
    const rng = Rng.fromSeed(1);
    const [before, during, never] = [randomKeys(rng, 50), randomKeys(rng, 50), randomKeys(rng, 50)];
    for (const k of never) assert.equal(keys.mayHold(k), true);
    assert.equal(keys.needsBuild(), true);
    const filter = keys.beginBuild(0);
    assert.equal(keys.needsBuild(), false);
    for (const k of during) keys.add(k); // writes while the scan runs
    for (const k of before) filter.add(k); // the scan
    assert.equal(keys.ready, false);
    assert.equal(keys.mayHold(never[0]!), true);
    keys.finishBuild(filter, true);
    assert.equal(keys.ready, true);
    for (const k of [...before, ...during]) assert.equal(keys.mayHold(k), true);
    assert.ok(never.filter((k) => keys.mayHold(k)).length <= 1);
  });

  it('builds a larger filter when the trusted one is full, up to the largest size', () => {
    const keys = new StoredKeys(2 ** 12);
    const rng = Rng.fromSeed(2);
    keys.finishBuild(keys.beginBuild(0), true);
    assert.equal(keys.needsBuild(), false);
    // The first filter is a quarter of the largest: 1,024 bits, full past 102 keys.
    const first = randomKeys(rng, 110);
    for (const k of first) keys.add(k);
    assert.equal(keys.needsBuild(), true);
    const larger = keys.beginBuild(0);
    assert.ok(larger.bits >= 2 * 1_024, `${larger.bits} bits`);
    const during = randomKeys(rng, 20);
    for (const k of during) keys.add(k);
    for (const k of first) larger.add(k); // the scan
    // Until it is trusted, the old filter answers, and both see every add.
    for (const k of during) assert.equal(keys.mayHold(k), true);
    keys.finishBuild(larger, true);
    for (const k of [...first, ...during]) assert.equal(keys.mayHold(k), true);
    // At the largest size a full filter stays: no build, false positives rise instead.
    for (const k of randomKeys(rng, 2_000)) keys.add(k);
    if (larger.bits < 2 ** 12) {
      assert.equal(keys.needsBuild(), true);
      keys.finishBuild(keys.beginBuild(0), true);
      for (const k of randomKeys(rng, 2_000)) keys.add(k);
    }
    assert.equal(keys.needsBuild(), false);
  });

  it('drops a failed build and stops building after three failures', () => {
    const keys = new StoredKeys(2 ** 20);
    for (let i = 0; i < 3; i++) {
      assert.equal(keys.needsBuild(), true);
      keys.finishBuild(keys.beginBuild(0), false);
      assert.equal(keys.ready, false);
    }
    assert.equal(keys.needsBuild(), false);
    assert.equal(keys.mayHold(keyOf(1, 2)), true);
  });

  it('never builds below 32 bits, and ignores the end of a build it did not begin', () => {
    const off = new StoredKeys(1);
    assert.equal(off.needsBuild(), false);
    assert.equal(off.mayHold(keyOf(1, 2)), true);
    const keys = new StoredKeys(2 ** 20);
    const stray = new KeyFilter(64);
    keys.finishBuild(stray, true);
    assert.equal(keys.ready, false);
  });
});
