import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../errors.js';
import { Lessor } from './lessor.js';

test('only the primary tracks expiry; renew extends to the granted TTL', () => {
  const l = new Lessor();
  l.grant(1, 10, 0);
  assert.deepEqual(l.expired(1_000_000), [], 'not primary: nothing expires');
  assert.throws(
    () => l.renew(1, 0),
    (e) => isStoreError(e, 'notLeader'),
  );
  l.promote(0, 0);
  assert.deepEqual(l.expired(9_999), []);
  assert.equal(l.renew(1, 5_000), 10);
  assert.deepEqual(l.expired(14_999), []);
  assert.equal(l.timeToLive(1, 5_500), 9);
  assert.deepEqual(l.expired(15_000), [1]);
  assert.deepEqual(l.expired(15_001), [], 'not reported again before the retry interval');
  assert.deepEqual(l.expired(18_000), [1], 'reported again when the revoke did not apply');
  assert.throws(
    () => l.renew(1, 18_000),
    (e) => isStoreError(e, 'leaseNotFound'),
    'expired leases cannot be renewed',
  );
  l.revoke(1);
  assert.deepEqual(l.expired(100_000), []);
  assert.equal(l.timeToLive(1, 0), -1);
});

test('expired() returns earliest expiry first, bounded', () => {
  const l = new Lessor();
  l.promote(0, 0);
  l.grant(3, 30, 0);
  l.grant(1, 10, 0);
  l.grant(2, 20, 0);
  assert.deepEqual(l.expired(60_000, 2), [1, 2]);
  assert.deepEqual(l.expired(60_000), [3]);
});

test('promotion extends every lease from its checkpointed remaining TTL or its granted TTL', () => {
  const l = new Lessor({ checkpointIntervalMs: 1000 });
  l.grant(1, 100, 0);
  l.grant(2, 100, 0);
  l.applyCheckpoint(2, 5);
  l.promote(50_000, 2_000);
  assert.deepEqual(l.expired(56_999), []);
  assert.deepEqual(l.expired(57_000), [2], '5 s remaining + 2 s extension');
  l.revoke(2);
  assert.deepEqual(l.expired(151_999), []);
  assert.deepEqual(l.expired(152_000), [1], 'full TTL + extension');
  l.demote();
  assert.deepEqual(l.expired(10_000_000), []);
});

test('checkpoints report remaining TTLs once per interval', () => {
  const l = new Lessor({ checkpointIntervalMs: 1000 });
  l.promote(0, 0);
  l.grant(1, 10, 0);
  assert.deepEqual(l.checkpoints(500), []);
  assert.deepEqual(l.checkpoints(1500), [{ id: 1, remainingTtl: 9 }]);
  assert.deepEqual(l.checkpoints(2000), []);
});
