import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/bytes.js';
import { isRaftError } from '../errors.js';
import type { Entry, Message } from '../types.js';
import { type MessageFields, makeMessage } from './message.js';
import { drainReady, makeTestCore, TestNetwork } from './test-network.js';

const VOTERS = { voters: [1, 2, 3], learners: [] };
const NO_PREVOTE = { preVote: false, checkQuorum: false };

function ent(index: number, term: number, text = ''): Entry {
  return { index, term, type: 'normal', data: utf8(text) };
}

function msg(f: Omit<MessageFields, 'to'> & { to?: number }): Message {
  return makeMessage({ to: 1, ...f });
}

/** A leader of term `term` (node 1 of 3) over `entries`, elected with node 2's vote. */
function leaderWith(entries: Entry[], term: number, commit: number, config = {}) {
  const t = makeTestCore(1, VOTERS, {
    entries,
    term: term - 1,
    commit,
    config: { ...NO_PREVOTE, ...config },
  });
  t.core.campaign();
  drainReady(t.core, t.log);
  t.core.step(msg({ type: 'voteResp', from: 2, term }));
  assert.equal(t.core.status().role, 'leader');
  return t;
}

function electedNetwork(ids = [1, 2, 3], options = {}): TestNetwork {
  const net = TestNetwork.create(ids, options);
  net.campaign(1);
  net.stabilize();
  assert.equal(net.leader(), 1);
  return net;
}

describe('raft log replication (Raft §5.3)', () => {
  it('a follower rejects AppendEntries whose prevLogIndex/term does not match, with a backtracking hint', () => {
    const { core, log } = makeTestCore(1, VOTERS, { entries: [ent(1, 1), ent(2, 2), ent(3, 2)], term: 2 });
    // No entry at 5.
    core.step(msg({ type: 'app', from: 2, term: 3, index: 5, logTerm: 3, entries: [ent(6, 3)] }));
    // Entry 3 has term 2, not 3; the hint is the last index with term <= 3: 3 (term 2).
    core.step(msg({ type: 'app', from: 2, term: 3, index: 3, logTerm: 3, entries: [ent(4, 3)] }));
    const resps = drainReady(core, log).messages;
    assert.deepEqual(
      resps.map((m) => [m.type, m.reject, m.index, m.rejectHint, m.logTerm]),
      [
        ['appResp', true, 5, 3, 2],
        ['appResp', true, 3, 3, 2],
      ],
    );
    assert.equal(log.lastIndex(), 3, 'nothing was appended');
  });

  it('a follower replaces a conflicting uncommitted suffix and keeps what matches', () => {
    const { core, log } = makeTestCore(1, VOTERS, {
      entries: [ent(1, 1, 'a'), ent(2, 1, 'b'), ent(3, 1, 'c')],
      term: 1,
      commit: 1,
    });
    core.step(
      msg({
        type: 'app',
        from: 2,
        term: 2,
        index: 1,
        logTerm: 1,
        entries: [ent(2, 1, 'b'), ent(3, 2, 'C')],
        commit: 3,
      }),
    );
    const { messages, committed } = drainReady(core, log);
    assert.deepEqual(
      log.entries(1, 4, 1e9).map((e) => [e.index, e.term]),
      [
        [1, 1],
        [2, 1],
        [3, 2],
      ],
    );
    assert.deepEqual([messages[0]?.type, messages[0]?.reject, messages[0]?.index], ['appResp', false, 3]);
    assert.deepEqual(
      committed.map((e) => e.index),
      [1, 2, 3],
    );
  });

  it('an AppendEntries below the commit index never replaces a committed entry', () => {
    const { core, log } = makeTestCore(1, VOTERS, { entries: [ent(1, 1), ent(2, 1)], term: 1, commit: 2 });
    drainReady(core, log);
    core.step(msg({ type: 'app', from: 2, term: 2, index: 1, logTerm: 1, entries: [ent(2, 2)] }));
    const [resp] = drainReady(core, log).messages;
    assert.deepEqual([resp?.type, resp?.reject, resp?.index], ['appResp', false, 2]);
    assert.equal(log.term(2), 1);
  });

  it('a leader commits only entries of its own term by counting replicas (figure 8)', () => {
    const { core, log } = leaderWith([ent(1, 1), ent(2, 2)], 3, 1);
    const noop = log.lastIndex() + core.lastIndex() - log.lastIndex(); // the leader's empty entry
    assert.equal(noop, 3);
    // Node 2 holds entry 2 (of term 2): a majority has it, but it is not of term 3.
    core.step(msg({ type: 'appResp', from: 2, term: 3, index: 2 }));
    assert.equal(core.status().commit, 1);
    // Once entry 3 (term 3) is on a majority, 2 and 3 commit together.
    core.step(msg({ type: 'appResp', from: 2, term: 3, index: 3 }));
    assert.equal(core.status().commit, 3);
    const { committed } = drainReady(core, log);
    assert.deepEqual(
      committed.map((e) => e.index),
      [2, 3],
    );
  });

  it('the leader log is append-only and every follower log converges to it (log matching)', () => {
    const net = electedNetwork([1, 2, 3, 4, 5]);
    for (let i = 0; i < 20; i++) net.propose(1 + (i % 5), utf8(`v${i}`));
    net.stabilize();
    const want = net.node(1).log.entries(1, net.node(1).log.lastIndex() + 1, 1e9);
    for (const id of [2, 3, 4, 5]) {
      const l = net.node(id).log;
      assert.deepEqual(l.entries(1, l.lastIndex() + 1, 1e9), want, `node ${id}`);
      assert.equal(net.appliedText(id).length, 20);
    }
  });

  it('fast backtracking skips a whole divergent term per round trip', () => {
    // Node 2 holds 50 entries of term 2 that node 1 (the new leader, term 3) never had.
    const net = TestNetwork.create([1, 2, 3], { config: NO_PREVOTE });
    net.campaign(2);
    net.stabilize();
    net.isolate(2);
    for (let i = 0; i < 50; i++) net.propose(2, utf8(`lost${i}`));
    net.stabilize();
    net.heal();
    net.isolate(2);
    net.campaign(1);
    net.stabilize();
    for (let i = 0; i < 5; i++) net.propose(1, utf8(`kept${i}`));
    net.stabilize();
    net.heal();
    // A new leader whose probe to node 2 lands in the middle of node 2's divergent term-2 entries.
    net.campaign(3);
    let rejections = 0;
    for (let k = 0; k < 40; k++) {
      for (const id of [1, 2, 3]) net.processReady(id);
      rejections += net.inFlight.filter((m) => m.type === 'appResp' && m.reject).length;
      net.deliver();
    }
    net.stabilize();
    assert.equal(net.leader(), 3);
    assert.deepEqual(net.appliedText(2), net.appliedText(3));
    assert.ok(net.appliedText(2).includes('kept4'));
    assert.ok(!net.appliedText(2).includes('lost0'));
    assert.ok(
      rejections >= 1 && rejections <= 3,
      `${rejections} rejections: backtracking went entry by entry`,
    );
  });

  it('flow control: at most maxInflightMsgs app messages in flight, each within maxSizePerMsg', () => {
    const net = electedNetwork([1, 2, 3], { config: { maxInflightMsgs: 2, maxSizePerMsg: 100 } });
    net.isolate(3); // node 3 never answers; nodes 1 and 2 keep the quorum
    for (let i = 0; i < 20; i++) net.propose(1, new Uint8Array(40));
    for (const id of [1, 2, 3]) net.processReady(id);
    const toThree = net.inFlight.filter((m) => m.type === 'app' && m.to === 3 && m.entries.length > 0);
    // 40 bytes of data + 24 of overhead: one entry per 100-byte message, two messages in flight.
    assert.equal(toThree.length, 2, 'app messages in flight to a silent follower');
    for (const m of toThree) assert.equal(m.entries.length, 1, 'entries per 100-byte message');
    net.stabilize();
    assert.equal(net.appliedText(2).length, 20, 'the quorum of 1 and 2 committed everything');
  });

  it('a follower that falls behind catches up through the window once it answers', () => {
    const net = electedNetwork([1, 2, 3], { config: { maxInflightMsgs: 2, maxSizePerMsg: 100 } });
    net.isolate(3);
    for (let i = 0; i < 30; i++) net.propose(1, utf8(`x${i}`));
    net.stabilize();
    net.heal();
    for (let i = 0; i < 5; i++) {
      net.tickAll();
      net.stabilize();
    }
    assert.deepEqual(net.appliedText(3), net.appliedText(1));
    assert.equal(net.appliedText(3).length, 30);
  });
});

describe('raft proposals', () => {
  it('a follower forwards proposals to the leader', () => {
    const net = electedNetwork();
    net.propose(3, utf8('from-3'));
    net.stabilize();
    for (const id of [1, 2, 3]) assert.deepEqual(net.appliedText(id), ['from-3']);
  });

  it('without a leader a proposal throws PROPOSAL_DROPPED', () => {
    const net = TestNetwork.create([1, 2, 3]);
    assert.throws(
      () => net.propose(2, utf8('x')),
      (e) => isRaftError(e, 'PROPOSAL_DROPPED'),
    );
  });

  it('with forwarding disabled a follower throws PROPOSAL_DROPPED', () => {
    const net = electedNetwork([1, 2, 3], { config: { disableProposalForwarding: true } });
    assert.throws(
      () => net.propose(2, utf8('x')),
      (e) => isRaftError(e, 'PROPOSAL_DROPPED'),
    );
    net.propose(1, utf8('ok'));
    net.stabilize();
    assert.deepEqual(net.appliedText(2), ['ok']);
  });

  it('a leader refuses proposals over maxUncommittedEntriesBytes until entries commit', () => {
    const net = electedNetwork([1, 2, 3], { config: { maxUncommittedEntriesBytes: 100 } });
    net.isolate(2);
    net.isolate(3);
    net.propose(1, new Uint8Array(60));
    assert.throws(
      () => net.propose(1, new Uint8Array(60)),
      (e) => isRaftError(e, 'PROPOSAL_DROPPED'),
    );
    net.heal();
    for (let i = 0; i < 3; i++) {
      net.tickAll();
      net.stabilize();
    }
    net.propose(1, new Uint8Array(60));
  });
});
