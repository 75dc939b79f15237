import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/bytes.js';
import type { Message } from '../types.js';
import { TestNetwork } from './test-network.js';

const DEFER = { preVote: false, checkQuorum: false, deferCommitOnlyAppends: true };

/** Node 1 leads a 3-node network whose every entry so far is committed and known to all. */
function elected(config: object): TestNetwork {
  const net = TestNetwork.create([1, 2, 3], { config });
  net.campaign(1);
  net.stabilize();
  assert.equal(net.leader(), 1);
  // Tell the followers the commit of the leader's empty entry (deferred or not), then settle.
  net.node(1).core.flushCommitNotices();
  net.stabilize();
  return net;
}

/** Processes every Ready of `id` and returns the messages they sent. */
function readies(net: TestNetwork, id: number): Message[] {
  const out: Message[] = [];
  for (let rd = net.processReady(id); rd !== undefined; rd = net.processReady(id)) out.push(...rd.messages);
  return out;
}

/**
 * One heartbeat round from the leader (node 1): a tick, the heartbeats delivered to 2 and 3, their
 * answers delivered back (the leader's Ready after them is left to the caller).
 */
function heartbeatRound(net: TestNetwork): void {
  net.tick(1);
  readies(net, 1);
  net.deliver((m) => m.type === 'heartbeat');
  readies(net, 2);
  readies(net, 3);
  net.deliver((m) => m.type === 'heartbeatResp');
}

/** Replicates one proposal until the leader's commit covers it; returns its index. */
function commitOne(net: TestNetwork, text: string): number {
  net.propose(1, utf8(text));
  readies(net, 1);
  net.deliver((m) => m.type === 'app');
  readies(net, 2);
  readies(net, 3);
  net.deliver((m) => m.type === 'appResp');
  const index = net.node(1).core.lastIndex();
  assert.equal(net.node(1).core.status().commit, index);
  return index;
}

function apps(ms: readonly Message[]): [number, number, number, number][] {
  return ms.filter((m) => m.type === 'app').map((m) => [m.to, m.index, m.entries.length, m.commit]);
}

describe('deferred commit notices (deferCommitOnlyAppends)', () => {
  it('sends no empty append when the commit advances: the next append with entries carries it', () => {
    const net = elected(DEFER);
    const a = commitOne(net, 'a');
    assert.deepEqual(apps(readies(net, 1)), [], 'no append at the commit advance');
    assert.equal(net.node(1).core.hasCommitNotices(), true);
    net.propose(1, utf8('b'));
    net.node(1).core.flushCommitNotices();
    // One append per follower, with the new entry and the commit of `a`; no empty one.
    assert.deepEqual(apps(readies(net, 1)), [
      [2, a, 1, a],
      [3, a, 1, a],
    ]);
    assert.equal(net.node(1).core.hasCommitNotices(), false);
    net.deliver((m) => m.type === 'app');
    readies(net, 2);
    assert.deepEqual(net.appliedText(2), ['a'], 'the follower applied `a` on the append of `b`');
  });

  it('flushing sends an empty append to each follower not told of the commit, once', () => {
    const net = elected(DEFER);
    const a = commitOne(net, 'a');
    readies(net, 1);
    net.node(1).core.flushCommitNotices();
    assert.deepEqual(apps(readies(net, 1)), [
      [2, a, 0, a],
      [3, a, 0, a],
    ]);
    net.node(1).core.flushCommitNotices();
    assert.deepEqual(apps(readies(net, 1)), [], 'nothing more to tell');
    net.stabilize();
    for (const id of [2, 3]) assert.deepEqual(net.appliedText(id), ['a']);
  });

  it('off (the default), the commit advance sends the empty appends at once, as etcd-io/raft', () => {
    const net = elected({ preVote: false, checkQuorum: false });
    const a = commitOne(net, 'a');
    assert.deepEqual(apps(readies(net, 1)), [
      [2, a, 0, a],
      [3, a, 0, a],
    ]);
  });

  it('a heartbeat tells the commit to a follower whose notice was never flushed', () => {
    const net = elected(DEFER);
    commitOne(net, 'a');
    readies(net, 1);
    net.tick(1);
    net.stabilize();
    for (const id of [2, 3]) assert.deepEqual(net.appliedText(id), ['a']);
  });

  it('a replicating follower gets an empty append on a heartbeat answer only when its match stood still', () => {
    const net = elected(DEFER);
    // A heartbeat round records each follower's match.
    net.tick(1);
    net.stabilize();
    // `x` goes out and is lost: match stays behind the last index.
    net.propose(1, utf8('x'));
    readies(net, 1);
    net.inFlight = [];
    const last = net.node(1).core.lastIndex();
    heartbeatRound(net);
    assert.deepEqual(apps(readies(net, 1)), [
      [2, last, 0, last - 1],
      [3, last, 0, last - 1],
    ]);
  });

  it("no empty append on a heartbeat answer while the follower's acks are moving its match", () => {
    const net = elected(DEFER);
    net.tick(1);
    net.stabilize();
    commitOne(net, 'a');
    // `b` is in flight when the heartbeat answers arrive; match moved (to `a`) since the last round.
    net.propose(1, utf8('b'));
    readies(net, 1);
    const pending = net.inFlight;
    net.inFlight = [];
    heartbeatRound(net);
    assert.deepEqual(apps(readies(net, 1)), []);
    net.inFlight.push(...pending);
    net.stabilize();
    net.node(1).core.flushCommitNotices();
    net.stabilize();
    for (const id of [2, 3]) assert.deepEqual(net.appliedText(id), ['a', 'b']);
  });
});
