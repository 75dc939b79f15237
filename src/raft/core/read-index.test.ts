import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/bytes.js';
import type { Entry } from '../types.js';
import { makeMessage } from './message.js';
import { drainReady, makeTestCore, TestNetwork } from './test-network.js';

function electedNetwork(ids = [1, 2, 3]): TestNetwork {
  const net = TestNetwork.create(ids);
  net.campaign(1);
  net.stabilize();
  return net;
}

describe('raft read index (ReadOnlySafe, Raft §6.4)', () => {
  it('the leader answers a read with its commit index after a heartbeat round confirms a quorum', () => {
    const net = electedNetwork();
    net.propose(1, utf8('a'));
    net.stabilize();
    const commit = net.node(1).core.status().commit;
    assert.equal(net.node(1).core.readIndex(utf8('r1')), true);
    // Before any heartbeat answer: nothing.
    net.processReady(1);
    assert.equal(net.node(1).readStates.length, 0);
    const beats = net.inFlight.filter((m) => m.type === 'heartbeat');
    assert.equal(beats.length, 2);
    assert.ok(beats.every((m) => new TextDecoder().decode(m.context) === 'r1'));
    net.stabilize();
    assert.deepEqual(net.node(1).readStates, [{ index: commit, requestCtx: utf8('r1') }]);
  });

  it('a leader cut off from its quorum never answers a read', () => {
    const net = electedNetwork();
    net.isolate(1);
    net.node(1).core.readIndex(utf8('r'));
    net.stabilize();
    assert.equal(net.node(1).readStates.length, 0);
  });

  it('a follower forwards the read to the leader and gets the index back', () => {
    const net = electedNetwork();
    net.propose(2, utf8('a'));
    net.stabilize();
    net.node(3).core.readIndex(utf8('f'));
    net.stabilize();
    assert.deepEqual(net.node(3).readStates, [
      { index: net.node(1).core.status().commit, requestCtx: utf8('f') },
    ]);
    assert.equal(net.node(1).readStates.length, 0);
  });

  it('without a leader a read is dropped at once', () => {
    const net = TestNetwork.create([1, 2, 3]);
    assert.equal(net.node(2).core.readIndex(utf8('x')), false);
    assert.equal(net.node(2).core.stats.dropped.get('readIndexDropped'), 1);
  });

  it('a new leader defers reads until an entry of its term is committed', () => {
    const ent = (index: number, term: number): Entry => ({
      index,
      term,
      type: 'normal',
      data: new Uint8Array(0),
    });
    const { core, log } = makeTestCore(
      1,
      { voters: [1, 2, 3], learners: [] },
      {
        entries: [ent(1, 1), ent(2, 1)],
        term: 1,
        commit: 1,
        config: { preVote: false },
      },
    );
    core.campaign();
    drainReady(core, log);
    core.step(makeMessage({ type: 'voteResp', from: 2, to: 1, term: 2 }));
    drainReady(core, log);
    assert.equal(core.status().role, 'leader');
    core.readIndex(utf8('early'));
    // Entry 2 may have been committed by the old leader: the read must wait for the no-op (3).
    assert.equal(
      drainReady(core, log).messages.filter((m) => m.type === 'heartbeat').length,
      0,
      'no read round before the no-op commits',
    );
    core.step(makeMessage({ type: 'appResp', from: 2, to: 1, term: 2, index: 3 }));
    const beats = drainReady(core, log).messages.filter(
      (m) => m.type === 'heartbeat' && m.context !== undefined,
    );
    assert.equal(beats.length, 2);
    core.step(makeMessage({ type: 'heartbeatResp', from: 3, to: 1, term: 2, context: utf8('early') }));
    const rd = core.ready();
    assert.deepEqual(rd.readStates, [{ index: 3, requestCtx: utf8('early') }]);
    core.advance(rd);
  });

  it('one heartbeat quorum answers every read queued before it, in order', () => {
    const net = electedNetwork();
    const leader = net.node(1).core;
    leader.readIndex(utf8('a'));
    leader.readIndex(utf8('b'));
    net.stabilize();
    assert.deepEqual(
      net.node(1).readStates.map((r) => new TextDecoder().decode(r.requestCtx)),
      ['a', 'b'],
    );
  });
});
