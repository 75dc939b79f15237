import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EventHeap, SimEvent } from './events.js';

function ev(at: number, seq: number): SimEvent {
  const e = new SimEvent();
  e.at = at;
  e.seq = seq;
  return e;
}

describe('EventHeap', () => {
  it('pops events in (time, sequence) order', () => {
    const heap = new EventHeap();
    heap.push(ev(5, 0));
    heap.push(ev(1, 1));
    heap.push(ev(5, 2));
    heap.push(ev(1, 3));
    heap.push(ev(3, 4));
    const order: Array<[number, number]> = [];
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) order.push([e.at, e.seq]);
    assert.deepEqual(order, [
      [1, 1],
      [1, 3],
      [3, 4],
      [5, 0],
      [5, 2],
    ]);
  });

  it('matches a stable sort for any sequence of pushes and pops', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(-1)), { maxLength: 200 }),
        (script) => {
          const heap = new EventHeap();
          const model: SimEvent[] = [];
          let seq = 0;
          for (const step of script) {
            if (step < 0) {
              model.sort((a, b) => a.at - b.at || a.seq - b.seq);
              assert.equal(heap.pop(), model.shift());
            } else {
              const e = ev(step, seq++);
              heap.push(e);
              model.push(e);
            }
          }
          assert.equal(heap.size, model.length);
        },
      ),
    );
  });

  it('compact removes cancelled events and keeps the order of the rest', () => {
    const heap = new EventHeap();
    const events = Array.from({ length: 100 }, (_, i) => ev((i * 37) % 11, i));
    for (const e of events) heap.push(e);
    for (const e of events) if (e.seq % 3 === 0) e.cancelled = true;
    assert.equal(heap.compact(), 34);
    const out: SimEvent[] = [];
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) out.push(e);
    const expected = events.filter((e) => !e.cancelled).sort((a, b) => a.at - b.at || a.seq - b.seq);
    assert.deepEqual(out, expected);
  });
});
