import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/index.js';
import { gather } from './gather.js';

describe('gather', () => {
  it('with a signal already aborted, still handles every call (a later rejection is not unhandled)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const abort = new AbortController();
      abort.abort();
      let reject: (err: Error) => void = () => {};
      const call = new Promise<number>((_, r) => {
        reject = r;
      });
      const got = await gather(new ManualClock(), new Map([['n1', call]]), () => false, 1_000, abort.signal);
      assert.equal(got.timedOut, true);
      reject(new Error('late failure'));
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
