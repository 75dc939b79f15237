import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/manual-clock.js';
import { ConnectionBudget } from './connection-budget.js';

function budget(limit = 100, stallMs = 1000) {
  const clock = new ManualClock();
  const stalls: number[] = [];
  const b = new ConnectionBudget(
    { maxQueuedResponseBytes: limit, maxBufferedRequestBytes: limit, stallMs },
    clock,
    () => stalls.push(clock.now()),
  );
  return { b, clock, stalls };
}

describe('ConnectionBudget', () => {
  it('is over only past its limit, and wakes waiters in order once back at or under it', () => {
    const { b } = budget();
    const woken: string[] = [];
    b.add(100);
    assert.equal(b.over, false);
    b.whenBelow(() => woken.push('now'));
    assert.deepEqual(woken, ['now']);
    b.add(1);
    assert.equal(b.over, true);
    b.whenBelow(() => woken.push('a'));
    b.whenBelow(() => woken.push('b'));
    b.release(0);
    assert.deepEqual(woken, ['now']);
    b.release(1);
    assert.deepEqual(woken, ['now', 'a', 'b']);
    assert.equal(b.queued, 100);
    b.release(100);
    assert.deepEqual(woken, ['now', 'a', 'b'], 'a waiter runs once');
  });

  it('reports a stall only after stallMs over the limit with nothing given back', () => {
    const { b, clock, stalls } = budget(100, 1000);
    b.add(150);
    clock.advance(600);
    b.release(10); // progress: the wait restarts from here
    clock.advance(600);
    assert.deepEqual(stalls, []);
    clock.advance(399);
    assert.deepEqual(stalls, []);
    clock.advance(1);
    assert.equal(stalls.length, 1);
    clock.advance(5000);
    assert.equal(stalls.length, 1, 'reported once');
  });

  it('reports no stall once the connection drained below its limit', () => {
    const { b, clock, stalls } = budget(100, 1000);
    b.add(150);
    b.release(60);
    clock.advance(2000);
    assert.deepEqual(stalls, []);
    b.add(60); // over again: a new wait starts
    clock.advance(999);
    assert.deepEqual(stalls, []);
    clock.advance(1);
    assert.equal(stalls.length, 1);
  });

  it('forgets its timer and waiters when disposed', () => {
    const { b, clock, stalls } = budget(100, 1000);
    const woken: number[] = [];
    b.add(150);
    b.whenBelow(() => woken.push(1));
    b.dispose();
    clock.advance(5000);
    b.release(150);
    assert.deepEqual(stalls, []);
    assert.deepEqual(woken, []);
  });
});
