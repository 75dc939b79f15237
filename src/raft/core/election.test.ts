import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Entry, Message } from '../types.js';
import { CAMPAIGN_TRANSFER, type MessageFields, makeMessage } from './message.js';
import { drainReady, makeTestCore, TestNetwork } from './test-network.js';

const VOTERS = { voters: [1, 2, 3], learners: [] };
const NO_PREVOTE = { preVote: false, checkQuorum: false };

function ent(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(0) };
}

function msg(f: Omit<MessageFields, 'to'> & { to?: number }): Message {
  return makeMessage({ to: 1, ...f });
}

/** Ticks `net` one tick at a time, stabilizing after each, `n` times. */
function run(net: TestNetwork, n: number): void {
  for (let i = 0; i < n; i++) {
    net.tickAll();
    net.stabilize();
  }
}

describe('raft election (Raft §5.2)', () => {
  it('a follower that hears nothing for an election timeout becomes candidate and asks every voter', () => {
    const { core, log } = makeTestCore(1, VOTERS, { config: NO_PREVOTE });
    for (let i = 0; i < 20; i++) core.tick();
    const s = core.status();
    assert.equal(s.role, 'candidate');
    assert.equal(s.term, 1);
    assert.equal(s.vote, 1);
    const votes = drainReady(core, log).messages.filter((m) => m.type === 'vote');
    assert.deepEqual(
      votes.map((m) => m.to),
      [2, 3],
    );
    assert.ok(votes.every((m) => m.term === 1 && m.index === 0 && m.logTerm === 0));
  });

  it('the election timeout is randomized in [electionTicks, 2*electionTicks) by the injected Rng', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 60; seed++) {
      const { core } = makeTestCore(1, VOTERS, { seed, config: NO_PREVOTE });
      let ticks = 0;
      while (core.status().role === 'follower' && ticks < 100) {
        core.tick();
        ticks++;
      }
      assert.ok(ticks >= 10 && ticks < 20, `seed ${seed}: campaigned after ${ticks} ticks`);
      seen.add(ticks);
    }
    assert.ok(seen.size > 3, `timeouts should vary, saw ${[...seen].join(',')}`);
    // The same seed gives the same timeout: no hidden randomness.
    const a = makeTestCore(1, VOTERS, { seed: 7, config: NO_PREVOTE }).core;
    const b = makeTestCore(1, VOTERS, { seed: 7, config: NO_PREVOTE }).core;
    for (let i = 0; i < 25; i++) {
      a.tick();
      b.tick();
      assert.equal(a.status().role, b.status().role);
    }
  });

  it('votes are granted at most once per term, first come first served', () => {
    const { core, log } = makeTestCore(1, VOTERS, { config: NO_PREVOTE });
    core.step(msg({ type: 'vote', from: 2, term: 1 }));
    core.step(msg({ type: 'vote', from: 3, term: 1 }));
    core.step(msg({ type: 'vote', from: 2, term: 1 }));
    const resp = drainReady(core, log).messages.filter((m) => m.type === 'voteResp');
    assert.deepEqual(
      resp.map((m) => [m.to, m.reject]),
      [
        [2, false],
        [3, true],
        [2, false],
      ],
    );
    assert.equal(core.status().vote, 2);
    assert.equal(log.initialState().hardState.vote, 2, 'the vote is in the persisted hard state');
  });

  it('a voter rejects a candidate whose log is less up to date (§5.4.1)', () => {
    const cases: [lastIndex: number, lastTerm: number, granted: boolean][] = [
      [5, 1, false], // longer but older last term
      [1, 2, false], // same last term, shorter
      [2, 2, true], // equal
      [1, 3, true], // newer last term, shorter
    ];
    for (const [index, logTerm, granted] of cases) {
      const { core, log } = makeTestCore(1, VOTERS, {
        entries: [ent(1, 1), ent(2, 2)],
        term: 2,
        config: NO_PREVOTE,
      });
      core.step(msg({ type: 'vote', from: 2, term: 3, index, logTerm }));
      const [resp] = drainReady(core, log).messages.filter((m) => m.type === 'voteResp');
      assert.equal(resp?.reject, !granted, `candidate log (${index}, ${logTerm})`);
    }
  });

  it('a candidate that receives AppendEntries from a leader with term >= its own steps down', () => {
    const { core, log } = makeTestCore(1, VOTERS, { config: NO_PREVOTE });
    core.campaign();
    drainReady(core, log);
    assert.equal(core.status().role, 'candidate');
    core.step(msg({ type: 'app', from: 2, term: 1, index: 0, logTerm: 0 }));
    assert.equal(core.status().role, 'follower');
    assert.equal(core.status().lead, 2);
    assert.equal(core.status().term, 1);
  });

  it('a candidate that wins a majority becomes leader and appends an empty entry of its term', () => {
    const { core, log } = makeTestCore(1, VOTERS, { config: NO_PREVOTE });
    core.campaign();
    drainReady(core, log);
    core.step(msg({ type: 'voteResp', from: 3, term: 1 }));
    assert.equal(core.status().role, 'leader');
    const { messages } = drainReady(core, log);
    assert.deepEqual(log.entries(1, 2, 1e9), [ent(1, 1)]);
    const apps = messages.filter((m) => m.type === 'app');
    assert.deepEqual(apps.map((m) => m.to).sort(), [2, 3]);
  });

  it('a candidate rejected by a majority returns to follower', () => {
    const { core, log } = makeTestCore(1, VOTERS, { config: NO_PREVOTE });
    core.campaign();
    drainReady(core, log);
    core.step(msg({ type: 'voteResp', from: 2, term: 1, reject: true }));
    assert.equal(core.status().role, 'candidate');
    core.step(msg({ type: 'voteResp', from: 3, term: 1, reject: true }));
    assert.equal(core.status().role, 'follower');
  });

  it('a node seeing a higher term adopts it and forgets its vote; a lower term is dropped', () => {
    const { core } = makeTestCore(1, VOTERS, { term: 3, vote: 1, config: NO_PREVOTE });
    assert.equal(core.step(msg({ type: 'heartbeat', from: 2, term: 2 })), 'staleTerm');
    assert.equal(core.status().term, 3);
    core.step(msg({ type: 'heartbeat', from: 2, term: 5 }));
    assert.deepEqual([core.status().term, core.status().vote, core.status().lead], [5, 0, 2]);
  });

  it('a cluster elects exactly one leader and every node learns it', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const net = TestNetwork.create([1, 2, 3, 4, 5], { seed });
      run(net, 40);
      const leader = net.leader();
      assert.ok(leader !== undefined, `seed ${seed}: no leader`);
      const term = net.node(leader).core.status().term;
      for (const n of net.nodes.values()) assert.equal(n.core.status().lead, leader, `seed ${seed}`);
      for (const n of net.nodes.values()) assert.equal(n.core.status().term, term);
    }
  });
});

describe('raft pre-vote (thesis §9.6)', () => {
  it('a partitioned node does not raise its term, and does not disrupt the leader when it returns', () => {
    const net = TestNetwork.create([1, 2, 3]);
    net.campaign(1);
    net.stabilize();
    const term = net.node(1).core.status().term;
    net.isolate(3);
    run(net, 100);
    assert.equal(net.node(3).core.status().term, term, 'the isolated node stayed in its term');
    net.heal();
    run(net, 20);
    assert.equal(net.leader(), 1);
    assert.equal(net.node(1).core.status().term, term);
  });

  it('without pre-vote the same partition raises the term and deposes the leader', () => {
    const net = TestNetwork.create([1, 2, 3], { config: { preVote: false, checkQuorum: false } });
    net.campaign(1);
    net.stabilize();
    const term = net.node(1).core.status().term;
    net.isolate(3);
    run(net, 100);
    assert.ok(net.node(3).core.status().term > term + 3);
    net.heal();
    run(net, 60);
    assert.ok(net.node(net.leader()!).core.status().term > term);
  });

  it('a pre-vote is answered for the next term without changing the voter term or vote', () => {
    const { core, log } = makeTestCore(1, VOTERS, { term: 2, vote: 3 });
    core.step(msg({ type: 'preVote', from: 2, term: 3, index: 0, logTerm: 0 }));
    const [resp] = drainReady(core, log).messages;
    assert.deepEqual([resp?.type, resp?.reject, resp?.term], ['preVoteResp', false, 3]);
    assert.deepEqual([core.status().term, core.status().vote], [2, 3]);
  });
});

describe('raft check-quorum (thesis §6.2)', () => {
  it('a leader cut off from a quorum steps down after an election timeout', () => {
    const net = TestNetwork.create([1, 2, 3]);
    net.campaign(1);
    net.stabilize();
    net.isolate(1);
    for (let i = 0; i < 25; i++) {
      net.tick(1);
      net.stabilize();
    }
    assert.equal(net.node(1).core.status().role, 'follower');
  });

  it('a follower that heard from a leader within the election timeout ignores votes (leader lease)', () => {
    const { core, log } = makeTestCore(1, VOTERS, { term: 2 });
    core.step(msg({ type: 'heartbeat', from: 2, term: 2 }));
    drainReady(core, log);
    assert.equal(core.step(msg({ type: 'vote', from: 3, term: 3 })), 'leaseVoteIgnored');
    assert.equal(core.status().term, 2);
    assert.equal(drainReady(core, log).messages.length, 0);
    // A vote of a leadership transfer bypasses the lease.
    core.step(msg({ type: 'vote', from: 3, term: 3, context: CAMPAIGN_TRANSFER }));
    assert.equal(core.status().term, 3);
    assert.equal(core.status().vote, 3);
  });

  it('a deposed leader with a stale term learns the new term from the answer to its heartbeat', () => {
    const { core, log } = makeTestCore(1, VOTERS, { term: 5 });
    core.step(msg({ type: 'heartbeat', from: 2, term: 3 }));
    const [resp] = drainReady(core, log).messages;
    assert.deepEqual([resp?.type, resp?.to, resp?.term], ['appResp', 2, 5]);
  });
});
