import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Member } from '../membership/types.js';
import {
  bootstrapPlan,
  decodeAdvert,
  encodeAdvert,
  formatMemberId,
  learnersToAdd,
  memberIdFromName,
  STORE_STATE_KEY,
  storePeers,
} from './store-bootstrap.js';

const member = (name: string, over: Partial<Member> = {}, advert?: string, cluster = ''): Member => ({
  id: `${name}-key`,
  name,
  address: `127.0.0.1:${7100 + name.length}`,
  state: 'alive',
  incarnation: 0,
  generation: 1,
  metadata:
    advert === undefined
      ? {
          [STORE_STATE_KEY]: encodeAdvert({
            id: formatMemberId(memberIdFromName(name)),
            etcd: `127.0.0.1:73${name.length}`,
            cluster,
          }),
        }
      : { [STORE_STATE_KEY]: advert },
  local: false,
  stateSinceMs: 0,
  ...over,
});

describe('store bootstrap through membership', () => {
  it('member ids are stable, distinct, non-zero and below 2^53', () => {
    const ids = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const id = memberIdFromName(`node-${i}`);
      assert.ok(Number.isSafeInteger(id) && id > 0 && id < 2 ** 52);
      ids.add(id);
    }
    assert.equal(ids.size, 10_000);
    assert.equal(memberIdFromName('node-0'), memberIdFromName('node-0'));
    assert.match(formatMemberId(memberIdFromName('node-0')), /^[0-9a-f]{16}$/);
  });

  it('a node named in the initial cluster bootstraps with exactly those voters; others join', () => {
    const plan = bootstrapPlan('node-1', ['node-0', 'node-1', 'node-2']);
    assert.equal(plan.kind, 'bootstrap');
    assert.deepEqual(plan.kind === 'bootstrap' ? plan.voters.map((v) => v.name) : [], [
      'node-0',
      'node-1',
      'node-2',
    ]);
    assert.deepEqual(bootstrapPlan('node-3', ['node-0', 'node-1', 'node-2']), { kind: 'join' });
    const alone = bootstrapPlan('solo', []);
    assert.deepEqual(alone.kind === 'bootstrap' ? alone.voters : [], [
      { name: 'solo', id: memberIdFromName('solo') },
    ]);
  });

  it('peers: only live members with a well-formed advert whose id matches their name', () => {
    const peers = storePeers([
      member('node-0'),
      member('node-1', { state: 'dead' }),
      member('node-2', {}, '{"id":"0000000000000001","etcd":"127.0.0.1:1","cluster":""}'),
      member('node-3', {}, 'not json'),
      member('node-4', { metadata: {} }),
      member('node-5', { state: 'suspect' }),
    ]);
    assert.deepEqual(
      peers.map((p) => p.name),
      ['node-0', 'node-5'],
    );
    assert.equal(decodeAdvert('{"id":"zz","etcd":"x"}'), undefined);
    assert.equal(decodeAdvert(42), undefined);
  });

  it('the leader adds one missing store node at a time, in name order', () => {
    const peers = storePeers([member('node-4'), member('node-0'), member('node-3')]);
    const group = new Set([memberIdFromName('node-0')]);
    assert.deepEqual(
      learnersToAdd(peers, group).map((p) => p.name),
      ['node-3'],
    );
    assert.deepEqual(
      learnersToAdd(peers, group, 5).map((p) => p.name),
      ['node-3', 'node-4'],
    );
    assert.deepEqual(learnersToAdd(peers, new Set(peers.map((p) => p.id))), []);
    // A node that belongs to another group (it bootstrapped a store of its own) is never pulled in.
    const other = storePeers([member('node-7', {}, undefined, '00000000000000ff')]);
    assert.equal(other.length, 1);
    assert.deepEqual(learnersToAdd(other, group), []);
  });
});
