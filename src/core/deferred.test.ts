import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferred } from './deferred.js';

describe('deferred', () => {
  it('resolves and rejects from outside', async () => {
    const ok = deferred<number>();
    ok.resolve(7);
    assert.equal(await ok.promise, 7);
    const bad = deferred<number>();
    bad.reject(new Error('no'));
    await assert.rejects(bad.promise, /no/);
  });
});
