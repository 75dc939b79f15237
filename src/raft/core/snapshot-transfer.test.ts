import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/bytes.js';
import { isRaftError } from '../errors.js';
import { TestNetwork } from './test-network.js';

function run(net: TestNetwork, n: number): void {
  for (let i = 0; i < n; i++) {
    net.tickAll();
    net.stabilize();
  }
}

function elected(ids = [1, 2, 3]): TestNetwork {
  const net = TestNetwork.create(ids);
  net.campaign(1);
  net.stabilize();
  assert.equal(net.leader(), 1);
  return net;
}

describe('raft snapshots', () => {
  it('a follower that needs compacted entries gets a snapshot, restores it and catches up', () => {
    const net = elected();
    net.isolate(3);
    for (let i = 0; i < 10; i++) net.propose(1, utf8(`a${i}`));
    net.stabilize();
    net.compact(1);
    assert.ok(
      net.node(1).log.firstIndex() > net.node(3).log.lastIndex() + 1,
      'the entries node 3 needs are gone',
    );
    net.propose(1, utf8('after'));
    net.stabilize();
    net.heal();
    run(net, 3);
    const snaps = net.node(3).readies.filter((rd) => rd.snapshot !== undefined);
    assert.equal(snaps.length, 1, 'node 3 restored one snapshot');
    assert.deepEqual(net.appliedText(3), net.appliedText(1));
    assert.equal(net.appliedText(3).at(-1), 'after');
    const pr = net.node(1).core.status().progress?.get(3);
    assert.equal(pr?.state, 'replicate');
    assert.equal(pr?.match, net.node(1).core.lastIndex());
  });

  it('a failed snapshot is retried after the report, and the follower still converges', () => {
    const net = elected();
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, utf8(`b${i}`));
    net.stabilize();
    net.compact(1);
    net.heal();
    let dropped = 0;
    net.dropIf((m) => m.type === 'snap' && dropped++ < 2);
    run(net, 10);
    assert.ok(dropped >= 2, 'the first snapshots were dropped');
    assert.deepEqual(net.appliedText(3), net.appliedText(1));
  });

  it('a restarted node recovers from its snapshot and log', () => {
    const net = elected();
    for (let i = 0; i < 5; i++) net.propose(1, utf8(`c${i}`));
    net.stabilize();
    net.compact(2);
    net.propose(1, utf8('tail'));
    net.stabilize();
    net.restart(2);
    run(net, 3);
    assert.equal(net.node(2).core.status().commit, net.node(1).core.status().commit);
    net.propose(1, utf8('more'));
    net.stabilize();
    assert.deepEqual(net.appliedText(2), net.appliedText(1));
  });

  it('every node restarted at once keeps all committed entries and elects a leader again', () => {
    const net = elected();
    for (let i = 0; i < 5; i++) net.propose(1, utf8(`d${i}`));
    net.stabilize();
    for (const id of [1, 2, 3]) net.restart(id);
    run(net, 40);
    const leader = net.leader();
    assert.ok(leader !== undefined);
    net.propose(leader, utf8('e'));
    net.stabilize();
    for (const id of [1, 2, 3]) assert.equal(net.appliedText(id).join(','), 'd0,d1,d2,d3,d4,e');
  });
});

describe('raft leadership transfer', () => {
  it('an up-to-date follower is told to campaign at once and wins in the next term', () => {
    const net = elected();
    const term = net.node(1).core.status().term;
    net.node(1).core.transferLeader(3);
    net.stabilize();
    assert.equal(net.leader(), 3);
    assert.equal(net.node(3).core.status().term, term + 1);
  });

  it('a lagging transferee is caught up first; proposals are refused meanwhile', () => {
    const net = elected();
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, utf8(`t${i}`));
    net.stabilize();
    net.node(1).core.transferLeader(3);
    assert.equal(net.node(1).core.status().leadTransferee, 3);
    assert.throws(
      () => net.propose(1, utf8('x')),
      (e) => isRaftError(e, 'PROPOSAL_DROPPED'),
    );
    net.heal();
    run(net, 2);
    assert.equal(net.leader(), 3);
    assert.deepEqual(net.appliedText(3), ['t0', 't1', 't2', 't3', 't4']);
  });

  it('a transfer to an unreachable node is abandoned after an election timeout', () => {
    const net = elected();
    net.isolate(3);
    net.node(1).core.transferLeader(3);
    run(net, 11);
    assert.equal(net.node(1).core.status().leadTransferee, 0);
    assert.equal(net.leader(), 1);
    net.propose(1, utf8('ok'));
  });

  it('a transfer asked on a follower is forwarded to the leader', () => {
    const net = elected();
    net.node(2).core.transferLeader(2);
    net.stabilize();
    assert.equal(net.leader(), 2);
  });
});
