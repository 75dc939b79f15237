import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encode, Rng } from '../../core/index.js';
import { descriptorWireBytes, type PexDescriptor } from './messages.js';
import { buildBuffer, mergeView, selectPeer, type ViewEntry, type ViewParams } from './view.js';

const SELF = '10.0.0.1:7946';
const a = (name: string) => `${name}.example:7946`;
const e = (name: string, age: number): ViewEntry => ({ address: a(name), age });
const names = (view: readonly PexDescriptor[]) => view.map((d) => `${d.address.split('.')[0]}${d.age}`);
const params = (viewSize: number, healing: number, swap: number): ViewParams => ({
  self: SELF,
  viewSize,
  healing,
  swap,
});

describe("mergeView (the paper's view.select)", () => {
  it('dedupes keeping the youngest, heals H oldest, swaps S sent, in that order', () => {
    // c=4, H=1, S=1. After append: A5 B0 C2 D3 E0 F0 (B refreshed), 2 over c.
    // Heal drops A (oldest); swap drops C (first sent still present). Nothing random is left.
    const view = [e('A', 5), e('B', 1), e('C', 2), e('D', 3)];
    const received = [e('E', 0), e('F', 0), e('B', 0)];
    const out = mergeView(view, received, [a('C'), a('D')], params(4, 1, 1), Rng.fromSeed(1));
    assert.deepEqual(names(out).sort(), ['B0', 'D3', 'E0', 'F0']);
  });

  it('healing comes before swapping and both stop at size c', () => {
    // c=4, H=2, S=2, 3 over c: heal drops A5 and B4, swap can drop only one more (C).
    const view = [e('A', 5), e('B', 4), e('C', 1), e('D', 1)];
    const received = [e('E', 0), e('F', 0), e('G', 0)];
    const out = mergeView(view, received, [a('C'), a('D')], params(4, 2, 2), Rng.fromSeed(2));
    assert.deepEqual(names(out).sort(), ['D1', 'E0', 'F0', 'G0']);
  });

  it('swap drops only entries that were sent, in the order sent', () => {
    const view = [e('A', 1), e('B', 1), e('C', 1), e('D', 1)];
    const out = mergeView(
      view,
      [e('E', 0), e('F', 0)],
      [a('D'), a('X'), a('B')],
      params(4, 0, 2),
      Rng.fromSeed(3),
    );
    assert.deepEqual(names(out).sort(), ['A1', 'C1', 'E0', 'F0']);
  });

  it('removes nothing while the view is within c, ignores self and keeps a younger local copy', () => {
    const view = [e('A', 3), e('B', 1)];
    const received = [{ address: SELF, age: 0 }, e('A', 1), e('B', 7), e('C', 2)];
    const out = mergeView(view, received, [a('A')], params(4, 2, 2), Rng.fromSeed(4));
    assert.deepEqual(names(out), ['A1', 'B1', 'C2']);
  });

  it('random removal keeps each surplus entry with equal chance', () => {
    const kept = new Map<string, number>();
    const rng = Rng.fromSeed(5);
    for (let i = 0; i < 2000; i++) {
      const out = mergeView([e('A', 0), e('B', 0)], [e('C', 0), e('D', 0)], [], params(2, 0, 0), rng);
      assert.equal(out.length, 2);
      for (const d of out) kept.set(d.address, (kept.get(d.address) ?? 0) + 1);
    }
    // Each of four entries survives with probability 1/2: 1000 expected of 2000.
    for (const n of ['A', 'B', 'C', 'D']) {
      const k = kept.get(a(n)) ?? 0;
      assert.ok(k > 900 && k < 1100, `${n} kept ${k} times`);
    }
  });

  it('property: result has at most c entries, no self, no duplicates, each from the inputs', () => {
    const entry = fc.record({
      address: fc.constantFrom(SELF, a('A'), a('B'), a('C'), a('D'), a('E'), a('F'), a('G')),
      age: fc.nat(20),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.nat(3),
        fc.nat(3),
        fc.array(entry, { maxLength: 8 }),
        fc.array(entry, { maxLength: 8 }),
        fc.integer(),
        (c, h, s, viewIn, received, seed) => {
          const healing = Math.min(h, Math.floor(c / 2));
          const swap = Math.min(s, Math.floor(c / 2) - healing);
          const p = params(c, healing, swap);
          const view = mergeView([], viewIn, [], { ...p, viewSize: 8 }, Rng.fromSeed(seed));
          const out = mergeView(
            view,
            received,
            view.map((d) => d.address),
            p,
            Rng.fromSeed(seed),
          );
          assert.ok(out.length <= c);
          assert.equal(new Set(out.map((d) => d.address)).size, out.length);
          assert.ok(out.every((d) => d.address !== SELF));
          const youngest = new Map<string, number>();
          for (const d of [...view, ...received])
            youngest.set(d.address, Math.min(d.age, youngest.get(d.address) ?? 99));
          for (const d of out) assert.equal(d.age, youngest.get(d.address), 'kept a stale copy');
          const distinct = new Set([...view, ...received].map((d) => d.address).filter((x) => x !== SELF))
            .size;
          assert.equal(out.length, Math.min(c, distinct), 'removed more than needed');
        },
      ),
    );
  });
});

describe('selectPeer', () => {
  const view = [e('A', 2), e('B', 7), e('C', 7), e('D', 1)];
  it('tail picks among the oldest, skipping busy peers', () => {
    const rng = Rng.fromSeed(6);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(selectPeer(view, 'tail', rng, new Set())!.address);
    assert.deepEqual([...seen].sort(), [a('B'), a('C')]);
    assert.equal(selectPeer(view, 'tail', rng, new Set([a('B'), a('C')]))!.address, a('A'));
    assert.equal(selectPeer(view, 'tail', rng, new Set(view.map((d) => d.address))), undefined);
  });
  it('rand picks any entry', () => {
    const rng = Rng.fromSeed(7);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(selectPeer(view, 'rand', rng, new Set())!.address);
    assert.equal(seen.size, 4);
  });
});

describe('buildBuffer', () => {
  const self: PexDescriptor = { address: SELF, age: 0 };
  it('puts self first, skips the partner, and leaves the H oldest for last', () => {
    const view = [e('A', 9), e('B', 1), e('C', 1), e('D', 1), e('E', 1)];
    const rng = Rng.fromSeed(8);
    for (let i = 0; i < 100; i++) {
      const buf = buildBuffer(view, self, params(6, 1, 2), rng, a('B'), 3, 1400);
      assert.equal(buf.length, 3);
      assert.deepEqual(buf[0], self);
      assert.ok(!buf.some((d) => d.address === a('B')), 'sent the partner its own descriptor');
      assert.ok(!buf.some((d) => d.address === a('A')), 'sent an oldest entry while younger ones remained');
    }
    // When the buffer has room for everything, the oldest go too.
    const all = buildBuffer(view, self, params(6, 1, 2), rng, a('B'), 10, 1400);
    assert.equal(all.length, 5);
    assert.equal(all.at(-1)!.address, a('A'));
  });

  it('stops before the entries exceed the byte budget', () => {
    const long = (i: number) => ({
      address: `${'h'.repeat(60)}.${'x'.repeat(60)}-${i}.example:7946`,
      age: i,
    });
    const view = Array.from({ length: 20 }, (_, i) => long(i));
    const budget = 600;
    const buf = buildBuffer(view, self, params(40, 1, 2), Rng.fromSeed(9), '', 20, budget);
    const bytes = buf.reduce((n, d) => n + descriptorWireBytes(d), 0);
    assert.ok(bytes <= budget, `${bytes} > ${budget}`);
    assert.ok(bytes + descriptorWireBytes(long(0)) > budget, 'left room for another entry');
  });
});

describe('descriptorWireBytes', () => {
  it("equals the codec's size for any address, age and id", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300, unit: 'binary' }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.option(fc.string({ maxLength: 300, unit: 'grapheme' }), { nil: undefined }),
        (address, age, id) => {
          const wire = id === undefined ? [address, age] : [address, age, id];
          const d: PexDescriptor = id === undefined ? { address, age } : { address, age, id };
          assert.equal(descriptorWireBytes(d), encode(wire).length);
        },
      ),
    );
  });
});
