import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MinHeap } from './min-heap.js';

describe('MinHeap', () => {
  it('pops in order whatever the pushes, pops and retains (model: a sorted array)', () => {
    type Op = { kind: 'push'; n: number } | { kind: 'pop' } | { kind: 'retain'; mod: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), n: fc.integer({ min: -50, max: 50 }) }),
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('retain' as const), mod: fc.integer({ min: 2, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops: Op[]) => {
        const heap = new MinHeap<number>((a, b) => a < b);
        let model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            heap.push(o.n);
            model.push(o.n);
            model.sort((a, b) => a - b);
          } else if (o.kind === 'pop') {
            assert.equal(heap.pop(), model.shift());
          } else {
            heap.retain((x) => Math.abs(x) % o.mod !== 0);
            model = model.filter((x) => Math.abs(x) % o.mod !== 0);
          }
          assert.equal(heap.size, model.length);
          assert.equal(heap.peek(), model[0]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is empty after clear, and pop on empty is undefined', () => {
    const heap = new MinHeap<number>((a, b) => a < b);
    heap.push(3);
    heap.push(1);
    assert.deepEqual([...heap.values()].sort(), [1, 3]);
    heap.clear();
    assert.equal(heap.size, 0);
    assert.equal(heap.pop(), undefined);
    assert.equal(heap.peek(), undefined);
  });
});
