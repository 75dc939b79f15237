import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/manual-clock.js';
import { ConnectionBudget, ServerBudget } from './connection-budget.js';

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

function shared(limit = 100, share = 10, stallMs = 1000) {
  const clock = new ManualClock();
  const server = new ServerBudget(
    { maxQueuedResponseBytes: limit, maxBufferedRequestBytes: limit, connectionShareBytes: share, stallMs },
    clock,
  );
  const stalls: string[] = [];
  const conn = (name: string) =>
    new ConnectionBudget(
      { maxQueuedResponseBytes: 1000, maxBufferedRequestBytes: 1000, stallMs },
      clock,
      () => stalls.push(name),
      server,
    );
  return { server, clock, stalls, conn };
}

describe('ServerBudget', () => {
  it('holds back only connections above their share while the total is over', () => {
    const { server, conn } = shared(100, 10);
    const a = conn('a');
    const b = conn('b');
    a.add(95);
    b.add(10);
    assert.equal(server.queued, 105);
    assert.equal(server.over, true);
    assert.equal(a.over, true, 'a holds more than its share');
    assert.equal(b.over, false, 'b holds its share: it goes on');
    assert.match(
      a.queuedRefusal().details,
      /the server has 105 response bytes unsent, over its limit of 100, and this connection holds 95/,
    );
    b.add(1);
    assert.equal(b.over, true);
    b.release(11);
    assert.equal(server.queued, 95);
    assert.equal(a.over, false, 'the total is back under its limit');
  });

  it('wakes a connection held back by the total once the total drops, in order', () => {
    const { conn } = shared(100, 10);
    const a = conn('a');
    const b = conn('b');
    const woken: string[] = [];
    a.add(60);
    b.add(50);
    a.whenBelow(() => woken.push('a1'));
    a.whenBelow(() => woken.push('a2'));
    b.whenBelow(() => woken.push('b'));
    assert.deepEqual(woken, []);
    b.release(5); // 105: still over
    assert.deepEqual(woken, []);
    b.release(5); // 100: at the limit, no longer over
    assert.deepEqual(woken, ['a1', 'a2', 'b']);
  });

  it('wakes a connection that drains to its share while the total stays over', () => {
    const { conn } = shared(100, 10);
    const a = conn('a');
    const b = conn('b');
    const woken: string[] = [];
    a.add(30);
    b.add(90);
    a.whenBelow(() => woken.push('a'));
    a.release(20);
    assert.deepEqual(woken, ['a']);
  });

  it('bounds request bytes by the same rule and words the refusal for the server', () => {
    const { server, conn } = shared(100, 10);
    const a = conn('a');
    const b = conn('b');
    a.addRequestBytes(95);
    assert.equal(a.requestOver, false);
    b.addRequestBytes(8);
    assert.equal(server.requestBytes, 103);
    assert.equal(a.requestOver, true);
    assert.equal(b.requestOver, false);
    assert.match(
      a.requestRefusal().details,
      /the server's calls hold 103 request bytes not yet complete, over its limit of 100, and this connection's 95/,
    );
    a.addRequestBytes(-95);
    assert.equal(server.requestBytes, 8);
    assert.equal(b.requestOver, false);
  });

  it('cuts a connection held back by the total that gives back nothing between two checks, and spares one that reads', () => {
    const { clock, stalls, conn } = shared(100, 10, 1000);
    const a = conn('a');
    const b = conn('b');
    const c = conn('c');
    a.add(60);
    b.add(60); // over: the checks start, a and b are marked
    c.add(20); // c starts holding after the mark: it is judged from the next check on
    clock.advance(999);
    b.release(1);
    assert.deepEqual(stalls, []);
    clock.advance(1); // first check: a gave nothing back since the mark
    assert.deepEqual(stalls, ['a']);
    b.release(1);
    clock.advance(1000); // second check: c gave nothing back since the first
    assert.deepEqual(stalls, ['a', 'c']);
    for (let i = 0; i < 3; i++) {
      b.release(1);
      clock.advance(1000);
    }
    assert.deepEqual(stalls, ['a', 'c'], 'b reads; each stall is reported once');
  });

  it('stops checking once the total is back under its limit, and forgets closed connections', () => {
    const { server, clock, stalls, conn } = shared(100, 10, 1000);
    const a = conn('a');
    const b = conn('b');
    a.add(60);
    b.add(60);
    assert.equal(server.size, 2);
    a.release(60);
    a.dispose();
    assert.equal(server.size, 1);
    clock.advance(5000);
    assert.deepEqual(stalls, []);
  });
});
