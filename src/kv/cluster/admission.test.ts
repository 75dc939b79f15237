import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError, ManualClock } from '../../core/index.js';
import { Admission } from './admission.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Admission', () => {
  it('queues calls past the per-target limit and admits them in order as slots free', async () => {
    const clock = new ManualClock();
    const a = new Admission(clock, 2, 10);
    const r1 = await a.acquire('b', 1000);
    const r2 = await a.acquire('b', 1000);
    const order: number[] = [];
    const w3 = a.acquire('b', 1000).then((r) => {
      order.push(3);
      return r;
    });
    const w4 = a.acquire('b', 1000).then((r) => {
      order.push(4);
      return r;
    });
    const other = await a.acquire('c', 1000); // another target is not held up
    await tick();
    assert.deepEqual(order, []);
    r1();
    r1(); // a second release is a no-op, not an extra slot
    await tick();
    assert.deepEqual(order, [3]);
    assert.equal(a.activeFor('b'), 2);
    r2();
    (await w3)();
    (await w4)();
    other();
    assert.equal(a.activeFor('b'), 0);
    assert.equal(a.activeFor('c'), 0);
  });

  it('rejects a waiting call at its deadline, and refuses when the queue is full', async () => {
    const clock = new ManualClock();
    const a = new Admission(clock, 1, 1);
    const held = await a.acquire('b', 1000);
    const late = a.acquire('b', 50);
    await assert.rejects(a.acquire('b', 1000), (e) => isCairnError(e, 'RPC_OVERLOADED'));
    clock.advance(50);
    await assert.rejects(late, (e) => isCairnError(e, 'RPC_DEADLINE_EXCEEDED'));
    held();
    assert.equal(a.activeFor('b'), 0, 'the expired waiter took no slot');
    (await a.acquire('b', 10))();
  });
});
