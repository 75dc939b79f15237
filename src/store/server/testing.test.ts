import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/index.js';
import { startSingleMemberStore } from './testing.js';

describe('startSingleMemberStore', () => {
  it('serves KV, txn, watch, leases, members and status in process on the real clock', async () => {
    const store = await startSingleMemberStore();
    const put = await store.put({ key: utf8('a'), value: utf8('1') });
    assert.equal(put.header.revision, 2);
    const txn = await store.txn({
      compare: [{ key: utf8('a'), target: 'value', result: 'equal', value: utf8('1') }],
      success: [{ put: { key: utf8('a'), value: utf8('2') } }],
      failure: [],
    });
    assert.equal(txn.succeeded, true);
    const cas = await store.txn({
      compare: [{ key: utf8('a'), target: 'value', result: 'equal', value: utf8('1') }],
      success: [{ put: { key: utf8('a'), value: utf8('3') } }],
      failure: [{ range: { key: utf8('a') } }],
    });
    assert.equal(cas.succeeded, false);
    const events: number[] = [];
    const w = await store.watch({ key: utf8('a'), startRevision: 1 }, (res) => {
      for (const e of res.events) events.push(e.kv.modRevision);
    });
    const lease = await store.leaseGrant(60);
    await store.put({ key: utf8('l'), value: utf8('x'), lease: lease.id });
    assert.equal((await store.leaseTimeToLive(lease.id, true)).keys.length, 1);
    assert.equal((await store.leaseKeepAlive(lease.id)).ttl, 60);
    await store.leaseRevoke(lease.id);
    assert.equal((await store.range({ key: utf8('l') })).count, 0);
    await store.compact({ revision: 2, physical: true });
    assert.deepEqual(events, [2, 3]);
    await w.cancel();
    const members = await store.memberList();
    assert.equal(members.members.length, 1);
    assert.equal(members.members[0]?.name, 'default');
    const status = await store.status();
    assert.equal(status.leader, 1);
    await store.stop();
  });
});
