import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/bytes.js';
import { isCairnError } from '../../core/errors.js';
import { isRaftError } from '../errors.js';
import { bootstrapState, decodeConfChange, encodeConfChange } from './conf-change.js';
import { TestNetwork } from './test-network.js';

function run(net: TestNetwork, n: number): void {
  for (let i = 0; i < n; i++) {
    net.tickAll();
    net.stabilize();
  }
}

function elected(ids = [1, 2, 3], learners: number[] = []): TestNetwork {
  const net = TestNetwork.create(ids, { learners });
  net.campaign(1);
  net.stabilize();
  assert.equal(net.leader(), 1);
  return net;
}

describe('conf change encoding', () => {
  it('round-trips and rejects malformed data', () => {
    const cc = { type: 'addLearner' as const, nodeId: 7, context: utf8('n7') };
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
    assert.deepEqual(decodeConfChange(encodeConfChange({ type: 'removeNode', nodeId: 2 })), {
      type: 'removeNode',
      nodeId: 2,
    });
    for (const bad of [utf8('junk'), encodeConfChange({ type: 'addNode', nodeId: 0 })]) {
      assert.throws(
        () => decodeConfChange(bad),
        (e) => isCairnError(e, 'DECODE_FAILED'),
      );
    }
  });

  it('bootstrap entries are the same bytes on every node', () => {
    const a = bootstrapState({ voters: [3, 1, 2], learners: [] });
    const b = bootstrapState({ voters: [1, 2, 3], learners: [] });
    assert.deepEqual(a, b);
    assert.deepEqual(a.hardState, { term: 1, vote: 0, commit: 3 });
  });
});

describe('raft single-server membership changes', () => {
  it('a new voter joins, replicates the whole log and counts toward the quorum', () => {
    const net = elected();
    net.propose(1, utf8('before'));
    net.stabilize();
    net.addEmpty(4);
    net.node(1).core.proposeConfChange({ type: 'addNode', nodeId: 4 });
    net.stabilize();
    for (const id of [1, 2, 3, 4])
      assert.deepEqual(net.node(id).confState, { voters: [1, 2, 3, 4], learners: [] });
    assert.deepEqual(net.appliedText(4), ['before']);
    // With 4 voters the quorum is 3: nodes 1 and 2 alone cannot commit.
    net.isolate(3);
    net.isolate(4);
    net.propose(1, utf8('stuck'));
    net.stabilize();
    assert.deepEqual(net.appliedText(2), ['before']);
    net.heal();
    run(net, 3);
    assert.deepEqual(net.appliedText(4), ['before', 'stuck']);
  });

  it('a learner receives the log but never votes, campaigns or counts to the quorum', () => {
    const net = elected([1, 2], [3]);
    net.propose(1, utf8('x'));
    net.stabilize();
    assert.deepEqual(net.appliedText(3), ['x']);
    // The learner never campaigns.
    net.isolate(3);
    run(net, 60);
    assert.equal(net.node(3).core.status().role, 'follower');
    net.heal();
    // With node 2 gone, node 1 and the learner are not a quorum.
    net.isolate(2);
    net.propose(1, utf8('y'));
    net.stabilize();
    assert.deepEqual(net.appliedText(1), ['x']);
    run(net, 40);
    assert.equal(net.leader(), undefined, 'the leader stepped down and nobody can win');
  });

  it('addNode on a learner promotes it to voter', () => {
    const net = elected([1, 2], [3]);
    net.node(1).core.proposeConfChange({ type: 'addNode', nodeId: 3 });
    net.stabilize();
    assert.deepEqual(net.node(3).confState, { voters: [1, 2, 3], learners: [] });
    // Now 1 and 3 are a quorum without 2.
    net.isolate(2);
    net.propose(1, utf8('z'));
    net.stabilize();
    assert.deepEqual(net.appliedText(3), ['z']);
  });

  it('addLearner on a voter is refused (a no-op when applied)', () => {
    const net = elected();
    net.node(1).core.proposeConfChange({ type: 'addLearner', nodeId: 2 });
    net.stabilize();
    assert.deepEqual(net.node(2).confState, { voters: [1, 2, 3], learners: [] });
  });

  it('at most one conf change is pending: the leader refuses a second until the first is applied', () => {
    const net = elected();
    net.addEmpty(4);
    net.addEmpty(5);
    net.node(1).core.proposeConfChange({ type: 'addLearner', nodeId: 4 });
    assert.throws(
      () => net.node(1).core.proposeConfChange({ type: 'addLearner', nodeId: 5 }),
      (e) => isRaftError(e, 'CONF_CHANGE_PENDING'),
    );
    net.stabilize();
    net.node(1).core.proposeConfChange({ type: 'addLearner', nodeId: 5 });
    net.stabilize();
    assert.deepEqual(net.node(1).confState.learners, [4, 5]);
  });

  it('a second conf change forwarded while one is pending becomes an empty entry', () => {
    const net = elected();
    net.addEmpty(4);
    net.addEmpty(5);
    net.node(1).core.proposeConfChange({ type: 'addLearner', nodeId: 4 });
    net.node(2).core.proposeConfChange({ type: 'addLearner', nodeId: 5 });
    net.stabilize();
    assert.deepEqual(net.node(1).confState.learners, [4]);
    const confEntries = net.node(1).applied.filter((e) => e.type === 'conf').length;
    assert.equal(confEntries, 4, 'three bootstrap entries and one change');
  });

  it('a removed leader steps down and the others elect a new one', () => {
    const net = elected();
    net.node(1).core.proposeConfChange({ type: 'removeNode', nodeId: 1 });
    net.stabilize();
    assert.notEqual(net.node(1).core.status().role, 'leader');
    run(net, 40);
    const leader = net.leader();
    assert.ok(leader === 2 || leader === 3, `leader ${leader}`);
    net.propose(leader, utf8('after'));
    net.stabilize();
    assert.deepEqual(net.appliedText(2), ['after']);
    assert.deepEqual(net.appliedText(1), [], 'the removed node no longer receives the log');
  });

  it('a removed follower never campaigns', () => {
    const net = elected();
    net.node(1).core.proposeConfChange({ type: 'removeNode', nodeId: 3 });
    net.stabilize();
    net.isolate(3);
    run(net, 60);
    assert.equal(net.node(3).core.status().role, 'follower');
    assert.equal(net.leader(), 1);
  });
});
