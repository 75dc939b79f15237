import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/index.js';
import { AckDeadlines, type AckOutcome, AckWait } from './acks.js';

/** A wait registered with `deadlines`, and its outcome once it ended. */
function start(
  clock: ManualClock,
  deadlines: AckDeadlines,
  needed: number,
  total: number,
  timeoutMs: number,
) {
  let outcome: AckOutcome | undefined;
  const wait = new AckWait(needed, total, clock.now() + timeoutMs, (o) => {
    outcome = o;
  });
  deadlines.add(wait);
  return { wait, outcome: () => outcome };
}

describe('AckWait', () => {
  it('ends once `needed` acknowledged, and ignores what comes later', () => {
    const clock = new ManualClock();
    const w = start(clock, new AckDeadlines(clock), 2, 3, 100);
    w.wait.ack();
    assert.equal(w.outcome(), undefined);
    w.wait.ack();
    assert.deepEqual(w.outcome(), { acks: 2, failures: new Map(), timedOut: false });
    w.wait.fail('n3', new Error('late'));
    assert.equal(w.outcome()?.failures.size, 0);
  });

  it('ends when every call settled short of `needed`, with the failures by name', () => {
    const clock = new ManualClock();
    const w = start(clock, new AckDeadlines(clock), 2, 2, 100);
    const err = new Error('down');
    w.wait.fail('n1', err);
    assert.equal(w.outcome(), undefined);
    w.wait.ack();
    assert.deepEqual(w.outcome(), { acks: 1, failures: new Map([['n1', err]]), timedOut: false });
  });

  it('ends when its signal aborts, already aborted included', () => {
    const abort = new AbortController();
    let outcome: AckOutcome | undefined;
    const wait = new AckWait(
      1,
      1,
      0,
      (o) => {
        outcome = o;
      },
      abort.signal,
    );
    abort.abort();
    assert.deepEqual(outcome, { acks: 0, failures: new Map(), timedOut: true });

    const early: { o?: AckOutcome } = {};
    const again = new AckWait(
      1,
      1,
      0,
      (o) => {
        early.o = o;
      },
      abort.signal,
    );
    assert.equal(early.o === undefined, true);
    again.check();
    assert.equal(early.o?.timedOut, true);
    assert.equal(wait.done && again.done, true);
  });
});

describe('AckDeadlines', () => {
  it('times out each running wait at its own deadline, in order, with one timer', () => {
    const clock = new ManualClock();
    const deadlines = new AckDeadlines(clock);
    const a = start(clock, deadlines, 1, 1, 100);
    clock.advance(30);
    const b = start(clock, deadlines, 1, 1, 100);
    clock.advance(30);
    const c = start(clock, deadlines, 1, 1, 100);
    b.wait.ack();
    clock.advance(39);
    assert.equal(a.outcome(), undefined);
    clock.advance(1);
    assert.equal(a.outcome()?.timedOut, true);
    assert.equal(b.outcome()?.timedOut, false);
    assert.equal(c.outcome(), undefined);
    clock.advance(59);
    assert.equal(c.outcome(), undefined);
    clock.advance(1);
    assert.equal(c.outcome()?.timedOut, true);
  });

  it('keeps timing out waits added after earlier ones ended (the queue is dropped and refilled)', () => {
    const clock = new ManualClock();
    const deadlines = new AckDeadlines(clock);
    for (let i = 0; i < 3000; i++) start(clock, deadlines, 1, 1, 100).wait.ack();
    const late = start(clock, deadlines, 1, 1, 100);
    for (let i = 0; i < 3000; i++) {
      clock.advance(0.01);
      start(clock, deadlines, 1, 1, 100).wait.ack();
    }
    clock.advance(100);
    assert.equal(late.outcome()?.timedOut, true);
    const last = start(clock, deadlines, 1, 1, 50);
    clock.advance(50);
    assert.equal(last.outcome()?.timedOut, true);
  });

  it('never times a wait out early when the clock stepped back after an earlier wait', () => {
    const clock = new ManualClock();
    const deadlines = new AckDeadlines(clock);
    const first = start(clock, deadlines, 1, 1, 100);
    // A wait with an earlier deadline behind it (as after a backward step of the wall clock).
    const second: { o?: AckOutcome } = {};
    deadlines.add(
      new AckWait(1, 1, clock.now() + 50, (o) => {
        second.o = o;
      }),
    );
    clock.advance(99);
    assert.equal(first.outcome(), undefined);
    assert.equal(second.o === undefined, true);
    clock.advance(1);
    assert.equal(first.outcome()?.timedOut, true);
    assert.equal(second.o?.timedOut, true);
  });
});
