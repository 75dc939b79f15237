import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CompoundBuilder, compoundSize, decodeCompound, encodeCompound, writeCompound } from './compound.js';
import { TransmitLimitedQueue } from './queue.js';

interface ModelItem {
  key: string;
  bytes: Uint8Array;
  id: number;
  transmits: number;
}

/** The reference queue: one array, sorted on every read. */
class ModelQueue {
  items: ModelItem[] = [];
  nextId = 0;
  constructor(readonly max: number) {}
  ordered(): ModelItem[] {
    return [...this.items].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
  }
  enqueue(key: string, bytes: Uint8Array): number {
    this.items = this.items.filter((i) => i.key !== key);
    let evicted = 0;
    if (this.items.length >= this.max) {
      const victim = [...this.items].sort((a, b) => b.transmits - a.transmits || a.id - b.id)[0]!;
      this.items = this.items.filter((i) => i !== victim);
      evicted = 1;
    }
    this.items.push({ key, bytes, id: this.nextId++, transmits: 0 });
    return evicted;
  }
  fill(packet: CompoundBuilder, limit: number): number {
    let taken = 0;
    for (const item of this.ordered()) {
      if (packet.full) break;
      if (item.transmits >= limit) {
        this.items = this.items.filter((i) => i !== item);
        continue;
      }
      if (packet.add(item.bytes)) {
        taken++;
        item.transmits++;
        if (item.transmits >= limit) this.items = this.items.filter((i) => i !== item);
      }
    }
    return taken;
  }
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant('enqueue' as const),
    key: fc.integer({ min: 0, max: 8 }),
    size: fc.integer({ min: 0, max: 300 }),
  }),
  fc.record({ kind: fc.constant('invalidate' as const), key: fc.integer({ min: 0, max: 8 }) }),
  fc.record({
    kind: fc.constant('fill' as const),
    mtu: fc.integer({ min: 1, max: 1400 }),
    maxParts: fc.integer({ min: 1, max: 6 }),
    limit: fc.integer({ min: 1, max: 5 }),
    prefix: fc.integer({ min: 0, max: 200 }),
  }),
);

describe('TransmitLimitedQueue', () => {
  it('matches the reference model (ordering, invalidation, limits, eviction)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 6 }), (ops, max) => {
        const real = new TransmitLimitedQueue(max);
        const model = new ModelQueue(max);
        let tag = 0;
        for (const o of ops) {
          if (o.kind === 'enqueue') {
            const bytes = new Uint8Array(o.size).fill(tag++ & 0xff);
            assert.equal(real.enqueue(`k${o.key}`, bytes), model.enqueue(`k${o.key}`, bytes));
          } else if (o.kind === 'invalidate') {
            const had = model.items.some((i) => i.key === `k${o.key}`);
            model.items = model.items.filter((i) => i.key !== `k${o.key}`);
            assert.equal(real.invalidate(`k${o.key}`), had);
          } else {
            const a = new CompoundBuilder(o.mtu, o.maxParts);
            const b = new CompoundBuilder(o.mtu, o.maxParts);
            const prefix = new Uint8Array(o.prefix);
            const addedA = a.add(prefix);
            assert.equal(b.add(prefix), addedA);
            assert.equal(real.fill(a, o.limit), model.fill(b, o.limit));
            assert.deepEqual(a.parts, b.parts);
            assert.ok(compoundSize(a.parts) <= o.mtu, 'packet over the MTU');
            assert.ok(a.parts.length <= o.maxParts);
            if (addedA) assert.equal(a.parts[0], prefix, 'the priority part stays first');
          }
          assert.deepEqual(
            real.snapshot().map((i) => [i.key, i.transmits, i.bytes]),
            model.ordered().map((i) => [i.key, i.transmits, i.bytes]),
          );
          assert.equal(real.size, model.items.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('hands every item out exactly `limit` times, then forgets it', () => {
    const q = new TransmitLimitedQueue(10);
    q.enqueue('a', new Uint8Array(10));
    let sent = 0;
    for (let i = 0; i < 10; i++) sent += q.fill(new CompoundBuilder(1400, 10), 3);
    assert.equal(sent, 3);
    assert.equal(q.has('a'), false);
  });
});

describe('compound packets', () => {
  it('encode to exactly compoundSize bytes and decode back', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 70_000 }), { maxLength: 20 }), (parts) => {
        const bytes = encodeCompound(parts);
        assert.equal(bytes.length, compoundSize(parts));
        // The scratch writer gives the codec's bytes (array 16 and bin 8/16/32 headers included).
        assert.ok(Buffer.from(writeCompound(parts)).equals(bytes));
        if (bytes.length <= 65_507) {
          const back = decodeCompound(bytes);
          assert.ok(back.ok);
          assert.deepEqual(
            back.value.map((p) => [...p]),
            parts.map((p) => [...p]),
          );
        }
      }),
      { numRuns: 50 },
    );
    // Array 16 and array 32 headers: more parts than the property generates.
    for (const count of [15, 16, 65_535, 65_536]) {
      const parts = Array.from({ length: count }, (_, i) => Uint8Array.of(i & 0xff));
      assert.ok(Buffer.from(writeCompound(parts)).equals(encodeCompound(parts)), `${count} parts`);
    }
  });

  it('builders never pass the MTU or the part limit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 30 }),
        (sizes, mtu, maxParts) => {
          const b = new CompoundBuilder(mtu, maxParts);
          for (const s of sizes) b.add(new Uint8Array(s));
          assert.ok(b.size <= mtu || b.parts.length === 0);
          assert.equal(b.size, encodeCompound(b.parts).length);
          assert.ok(b.parts.length <= maxParts);
        },
      ),
    );
  });

  it('rejects garbage without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = decodeCompound(bytes);
        if (r.ok) assert.ok(Array.isArray(r.value));
      }),
    );
    assert.deepEqual(decodeCompound(encodeCompound([])), { ok: true, value: [] });
    assert.equal(decodeCompound(new Uint8Array([0x92, 0x01, 0x02])).ok, false); // ints, not bins
  });
});
