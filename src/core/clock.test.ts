import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SystemClock, sleep } from './clock.js';
import { isCairnError } from './errors.js';

describe('SystemClock', () => {
  it('never goes backwards', () => {
    const clock = new SystemClock();
    let last = clock.now();
    for (let i = 0; i < 1000; i++) {
      const now = clock.now();
      assert.ok(now >= last);
      last = now;
    }
  });

  it('fires timers once and not after cancel', async () => {
    const clock = new SystemClock();
    let fired = 0;
    const cancelled = clock.setTimer(0, () => fired++);
    clock.cancel(cancelled);
    await new Promise<void>((resolve) => clock.setTimer(1, resolve));
    assert.equal(fired, 0);
    assert.throws(() => clock.setTimer(Number.NaN, () => {}), /not finite/);
  });

  it('sleep rejects with CANCELLED when aborted', async () => {
    const controller = new AbortController();
    const pending = sleep(new SystemClock(), 60_000, controller.signal);
    controller.abort();
    await assert.rejects(pending, (e) => isCairnError(e, 'CANCELLED'));
  });
});
