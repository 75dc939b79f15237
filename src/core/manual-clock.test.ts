import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from './errors.js';
import { ManualClock } from './manual-clock.js';

describe('ManualClock', () => {
  it('fires due timers in time order, ties in the order set, reading each timer its own time', () => {
    const clock = new ManualClock(0);
    const seen: string[] = [];
    clock.setTimer(20, () => seen.push(`b@${clock.now()}`));
    clock.setTimer(10, () => {
      seen.push(`a@${clock.now()}`);
      clock.setTimer(5, () => seen.push(`c@${clock.now()}`)); // due at 15, inside this advance
    });
    clock.setTimer(20, () => seen.push(`d@${clock.now()}`));
    const cancelled = clock.setTimer(12, () => seen.push('never'));
    clock.cancel(cancelled);
    assert.equal(clock.advance(19), 2);
    assert.deepEqual(seen, ['a@10', 'c@15']);
    assert.equal(clock.now(), 19);
    assert.equal(clock.pending, 2);
    clock.advance(1);
    assert.deepEqual(seen, ['a@10', 'c@15', 'b@20', 'd@20']);
    assert.equal(clock.pending, 0);
  });

  it('refuses a timer loop that never lets time pass', () => {
    const clock = new ManualClock();
    const loop = () => clock.setTimer(0, loop);
    clock.setTimer(0, loop);
    assert.throws(
      () => clock.advance(1),
      (e) => isCairnError(e, 'LIMIT_EXCEEDED'),
    );
  });
});
