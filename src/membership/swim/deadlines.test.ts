import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DeadlineQueue } from './deadlines.js';

describe('DeadlineQueue', () => {
  it('matches a map-and-sort model', () => {
    const opArb = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.integer({ min: 0, max: 20 }),
        at: fc.integer({ min: 0, max: 100 }),
      }),
      fc.record({ kind: fc.constant('cancel' as const), key: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 100 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const q = new DeadlineQueue();
        const model = new Map<string, { at: number; order: number }>();
        let order = 0;
        for (const o of ops) {
          if (o.kind === 'set') {
            q.set(`k${o.key}`, o.at);
            model.set(`k${o.key}`, { at: o.at, order: order++ });
          } else if (o.kind === 'cancel') {
            assert.equal(q.cancel(`k${o.key}`), model.delete(`k${o.key}`));
          } else {
            const due = [...model]
              .filter(([, v]) => v.at <= o.now)
              .sort((a, b) => a[1].at - b[1].at || a[1].order - b[1].order);
            const got: string[] = [];
            for (let key = q.popDue(o.now); key !== undefined; key = q.popDue(o.now)) got.push(key);
            assert.deepEqual(
              got,
              due.map(([k]) => k),
            );
            for (const k of got) model.delete(k);
          }
          const earliest = [...model.values()].reduce((m, v) => Math.min(m, v.at), Number.POSITIVE_INFINITY);
          assert.equal(q.next(), model.size === 0 ? undefined : earliest);
          assert.equal(q.size, model.size);
        }
      }),
      { numRuns: 300 },
    );
  });
});
