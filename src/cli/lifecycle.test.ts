import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { currentParentPid, watchParent, withDeadline } from './lifecycle.js';

describe('lifecycle helpers', () => {
  it('currentParentPid reads the live parent pid (the same as process.ppid while the parent lives)', () => {
    assert.equal(currentParentPid(), process.ppid);
  });

  it('watchParent fires once when stdin ends, and not after being stopped', async () => {
    const stdin = new PassThrough();
    const reasons: string[] = [];
    const fired = new Promise<void>((resolve) => {
      watchParent(
        (reason) => {
          reasons.push(reason);
          resolve();
        },
        { stdin },
      );
    });
    stdin.write('ignored input');
    stdin.end();
    await fired;
    stdin.emit('close');
    assert.deepEqual(reasons, ['stdin closed']);

    const other = new PassThrough();
    const calls: string[] = [];
    const stop = watchParent((reason) => calls.push(reason), { stdin: other });
    stop();
    other.end();
    other.resume();
    await new Promise((resolve) => other.once('end', resolve));
    assert.deepEqual(calls, []);
  });

  it('withDeadline returns the value, or done=false when the promise is slower than the deadline', async () => {
    assert.deepEqual(await withDeadline(Promise.resolve(7), 1000), { done: true, value: 7 });
    assert.deepEqual(await withDeadline(new Promise(() => {}), 1), { done: false });
    await assert.rejects(withDeadline(Promise.reject(new Error('boom')), 1000), /boom/);
  });
});
