import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../core/index.js';
import { ManualClock } from '../../core/manual-clock.js';
import { OFF_RING_KEY } from '../ring/advert.js';
import { encodeGhosts } from '../ring/ghosts.js';
import { decodeDenials, decodeRecalls, encodeDenials, encodeRecalls } from '../ring/recalls.js';
import { encodeRemovals, tokensDigest } from '../ring/removals.js';
import type { RingNode } from '../types.js';
import { defaultEngines } from './engines.js';
import { RingTracker } from './ring-tracker.js';
import { FakeMembership } from './testing.js';

/**
 * The ring tracker's memory: remembered ring nodes stand in until live information accounts for
 * them, are announced as recalls (never as ghosts) meanwhile, and once contact with live ring
 * nodes has lasted the settle time are kept when every one of them mentions them too, forgotten
 * when one denies them, and left standing in otherwise; a tracker denies the recalls its ring
 * does not hold.
 */

const SETTLE_MS = 1000;
const addr = (n: string) => ({ host: n, port: 1 }) as never;
const node = (name: string, first: bigint): RingNode => ({
  name,
  tokens: [first, first + 1n],
  status: 'normal',
});

function setup() {
  const clock = new ManualClock();
  const membership = new FakeMembership();
  membership.add('self', addr('self'));
  const saved: string[][] = [];
  const tracker = new RingTracker('self', membership.viewFor('self'), defaultEngines, 3, silentLogger(), {
    clock,
    settleMs: SETTLE_MS,
    save: (nodes) => saved.push(nodes.map((n) => n.name)),
  });
  membership.viewFor('self').onChange(() => tracker.refresh());
  tracker.setOwn({ tokens: [100n, 101n], status: 'normal' });
  const names = () =>
    tracker
      .current()
      .info()
      .nodes.map((n) => n.name)
      .sort()
      .join(',');
  /** Adds a live member advertising `n`, with `extra` state values (ghosts, removals, recalls). */
  const live = (n: RingNode, extra: ReadonlyMap<string, Uint8Array> = new Map()) => {
    membership.add(n.name, addr(n.name));
    membership
      .viewFor(n.name)
      .publish(
        new Map([...defaultEngines.encodeRingAdvert({ tokens: n.tokens, status: n.status }), ...extra]),
      );
  };
  /** `name` publishes its departure marker in place of an advert. */
  const depart = (name: string) =>
    membership.viewFor(name).publish(new Map([[OFF_RING_KEY, Uint8Array.of(1)]]));
  return { clock, membership, tracker, saved, names, live, depart };
}

describe('RingTracker memory', () => {
  it('saves nothing before the memory is restored, then the other ring nodes on each change', () => {
    const { tracker, saved, live } = setup();
    live(node('a', 10n));
    assert.deepEqual(saved, [], 'nothing may overwrite the memory before it is read');
    tracker.restore([]);
    assert.deepEqual(saved, [['a']]);
    live(node('b', 20n));
    assert.deepEqual(saved, [['a'], ['a', 'b']]);
  });

  it('says its ring is unknown from a start that remembered others until it hears a live ring node', () => {
    const { tracker, live } = setup();
    assert.equal(tracker.ringUnknown(), undefined, 'nothing restored yet: a first start');
    tracker.restore([node('a', 10n), node('x', 30n)]);
    assert.match(tracker.ringUnknown() ?? '', /not yet heard from any live ring node/);
    live(node('a', 10n));
    assert.equal(tracker.ringUnknown(), undefined, 'a is up and publishes its advert');
    const fresh = setup();
    fresh.tracker.restore([]);
    assert.equal(fresh.tracker.ringUnknown(), undefined, 'nothing remembered: a ring of this node alone');
  });

  it('puts remembered nodes on the ring while no one is in contact, without announcing them', () => {
    const { clock, tracker, names } = setup();
    tracker.restore([node('x', 30n), node('y', 40n)]);
    assert.equal(names(), 'self,x,y');
    assert.deepEqual(tracker.rememberedOnly().sort(), ['x', 'y']);
    assert.deepEqual(tracker.announcedGhosts(), [], 'memory is never announced');
    clock.advance(100 * SETTLE_MS);
    tracker.refresh();
    assert.equal(names(), 'self,x,y', 'without contact nothing is forgotten');
  });

  it('forgets what a live node denies once contact lasted the settle time, and keeps what a ghost confirms', () => {
    const { clock, tracker, names, live } = setup();
    tracker.restore([node('a', 10n), node('x', 30n), node('y', 40n)]);
    const ghostY = encodeGhosts([node('y', 40n)]);
    live(node('a', 10n), ghostY); // contact: a is up and on the ring
    assert.equal(names(), 'a,self,x,y');
    assert.deepEqual(tracker.rememberedOnly(), ['x']);
    clock.advance(SETTLE_MS - 1);
    assert.equal(names(), 'a,self,x,y');
    clock.advance(1); // the settle timer refreshes the ring
    assert.equal(names(), 'a,self,x,y', 'a is silent on x: not an answer, x stands in');
    assert.deepEqual(tracker.rememberedOnly(), ['x']);
    // a answers the recall: x is not on its ring.
    live(
      node('a', 10n),
      new Map([...ghostY, ...encodeDenials([{ node: 'x', digest: tokensDigest([30n, 31n]) }])]),
    );
    assert.equal(names(), 'a,self,y', 'x, which a live node denies, is forgotten');
    assert.deepEqual(tracker.rememberedOnly(), []);
  });

  it('announces what it only remembers as recalls, and keeps for good what every live node remembers too', () => {
    const { clock, membership, tracker, names, live, depart } = setup();
    tracker.restore([node('a', 10n), node('b', 20n), node('x', 30n)]);
    const selfValue = (key: string) =>
      membership
        .viewFor('a')
        .members()
        .find((m) => m.name === 'self')!
        .lookup(key);
    assert.deepEqual(decodeRecalls(selfValue), [
      { node: 'a', digest: tokensDigest([10n, 11n]) },
      { node: 'b', digest: tokensDigest([20n, 21n]) },
      { node: 'x', digest: tokensDigest([30n, 31n]) },
    ]);
    // The whole cluster restarted while x is down: a and b come up remembering x as well.
    const recallingX = encodeRecalls([{ node: 'x', digest: tokensDigest([30n, 31n]) }]);
    live(node('a', 10n), recallingX);
    live(node('b', 20n), recallingX);
    assert.deepEqual(decodeRecalls(selfValue), [{ node: 'x', digest: tokensDigest([30n, 31n]) }]);
    assert.deepEqual(tracker.announcedGhosts(), []);
    clock.advance(SETTLE_MS);
    assert.equal(names(), 'a,b,self,x', 'x is kept');
    assert.deepEqual(tracker.rememberedOnly(), []);
    assert.deepEqual(decodeRecalls(selfValue), [], 'nothing is only remembered any more');
    assert.deepEqual(
      tracker.announcedGhosts().map((g) => g.name),
      ['x'],
      'x is announced as a ghost from now on',
    );
    clock.advance(100 * SETTLE_MS);
    tracker.refresh();
    assert.equal(names(), 'a,b,self,x', 'and stays without anyone announcing it back');
    // x comes back: its own advert takes over; when it later leaves the ring, it is gone.
    live(node('x', 30n));
    assert.equal(names(), 'a,b,self,x');
    depart('x');
    assert.equal(names(), 'a,b,self');
    membership.reap('x');
    assert.equal(names(), 'a,b,self', 'no memory of x brings it back');
  });

  it('forgets a remembered node that one live node denies, and keeps one a silent node may hold', () => {
    const x30 = { node: 'x', digest: tokensDigest([30n, 31n]) };
    for (const other of ['denies', 'other tokens', 'silent'] as const) {
      const { clock, tracker, names, live } = setup();
      tracker.restore([node('a', 10n), node('b', 20n), node('x', 30n)]);
      live(node('a', 10n), encodeRecalls([x30]));
      // denies: b saw x leave the ring while this node was down. other tokens: b holds x with
      // other tokens, so it recalls those and denies these. silent: b holds x on its ring (it sees
      // x up where this node does not), or has not read this node's recall yet.
      const says =
        other === 'denies'
          ? encodeDenials([x30])
          : other === 'other tokens'
            ? new Map([
                ...encodeRecalls([{ node: 'x', digest: tokensDigest([90n]) }]),
                ...encodeDenials([x30]),
              ])
            : new Map<string, Uint8Array>();
      live(node('b', 20n), says);
      clock.advance(SETTLE_MS);
      if (other === 'silent') {
        assert.equal(names(), 'a,b,self,x', 'silent: x stands in, undecided');
        assert.deepEqual(tracker.rememberedOnly(), ['x']);
        // Decided again on a later refresh: b still silent, a now denies too.
        live(node('a', 10n), encodeDenials([x30]));
        assert.equal(names(), 'a,b,self', 'a denies x: forgotten');
      } else {
        assert.equal(names(), 'a,b,self', `${other}: x is forgotten`);
      }
      assert.deepEqual(tracker.announcedGhosts(), []);
    }
  });

  it('keeps a remembered node standing in while a voter that sees it up is silent, until membership shows it', () => {
    // The whole cluster restarted around a down node (n4 here is "d"); x restarted last, and a
    // partition kept its new state from this node while b, on its side, took x's advert. b is
    // silent on x: forgetting x would place x's keys on other replicas than b and x do.
    const { clock, tracker, names, live } = setup();
    tracker.restore([node('a', 10n), node('b', 20n), node('d', 25n), node('x', 30n)]);
    const recalls = encodeRecalls([
      { node: 'd', digest: tokensDigest([25n, 26n]) },
      { node: 'x', digest: tokensDigest([30n, 31n]) },
    ]);
    live(node('a', 10n), recalls);
    live(node('b', 20n), encodeRecalls([{ node: 'd', digest: tokensDigest([25n, 26n]) }]));
    clock.advance(SETTLE_MS);
    assert.equal(names(), 'a,b,d,self,x', 'd kept (every voter recalls it), x stands in');
    assert.deepEqual(tracker.rememberedOnly(), ['x']);
    clock.advance(100 * SETTLE_MS);
    tracker.refresh();
    assert.equal(names(), 'a,b,d,self,x', 'still standing in');
    live(node('x', 30n));
    assert.equal(names(), 'a,b,d,self,x');
    assert.deepEqual(tracker.rememberedOnly(), [], 'membership accounts for x now');
  });

  it('denies the recalls of members up that its ring does not hold with those tokens', () => {
    const { clock, membership, tracker, live } = setup();
    const denialsOfSelf = () =>
      decodeDenials((key) =>
        membership
          .viewFor('a')
          .members()
          .find((m) => m.name === 'self')!
          .lookup(key),
      );
    const recall = (n: string, ...tokens: bigint[]) => ({ node: n, digest: tokensDigest(tokens) });
    live(node('b', 20n));
    live(
      node('a', 10n),
      encodeRecalls([recall('b', 20n, 21n), recall('self', 100n, 101n), recall('x', 30n, 31n)]),
    );
    assert.deepEqual(denialsOfSelf(), [], 'not before its memory is read: its ring may lack what it knew');
    tracker.restore([]);
    live(
      node('a', 10n),
      encodeRecalls([recall('b', 20n, 21n), recall('self', 100n, 101n), recall('x', 30n, 31n)]),
    );
    assert.deepEqual(denialsOfSelf(), [], 'nor for the settle time after: a ghost may not have arrived yet');
    clock.advance(SETTLE_MS - 1);
    assert.deepEqual(denialsOfSelf(), []);
    clock.advance(1); // the answer timer refreshes the ring
    assert.deepEqual(
      denialsOfSelf(),
      [recall('x', 30n, 31n)],
      'b and self are on its ring with those tokens',
    );
    live(node('a', 10n), encodeRecalls([recall('b', 90n), recall('self', 7n)]));
    assert.deepEqual(denialsOfSelf(), [recall('b', 90n), recall('self', 7n)], 'other tokens are denied');
    live(node('a', 10n), encodeRecalls([recall('b', 20n, 21n)]));
    assert.deepEqual(denialsOfSelf(), [], 'nothing left to deny');
  });

  it('keeps a node known from one ghost when its announcer restarts, and lets the voters decide', () => {
    for (const announcerSays of ['recalls it', 'denies it'] as const) {
      const { clock, membership, tracker, names, live } = setup();
      tracker.restore([]);
      live(node('a', 10n), encodeGhosts([node('x', 30n)]));
      assert.equal(names(), 'a,self,x');
      // a restarts: a new generation, its state values (the ghost of x) gone at this node.
      membership.viewFor('a').publish(new Map());
      assert.equal(names(), 'a,self,x', `${announcerSays}: x stands in while nothing says it left`);
      assert.deepEqual(tracker.rememberedOnly(), ['x']);
      live(
        node('a', 10n),
        announcerSays === 'recalls it'
          ? encodeRecalls([{ node: 'x', digest: tokensDigest([30n, 31n]) }])
          : encodeDenials([{ node: 'x', digest: tokensDigest([30n, 31n]) }]),
      );
      clock.advance(SETTLE_MS);
      assert.equal(names(), announcerSays === 'recalls it' ? 'a,self,x' : 'a,self', announcerSays);
    }
  });

  it('takes a ghost for a member listed with nothing of its state', () => {
    const { membership, tracker, names, live, depart } = setup();
    tracker.restore([]);
    live(node('a', 10n), encodeGhosts([node('x', 30n), node('y', 40n)]));
    // This node lists x (learned from a peer after x went down, so no state of x arrived) and y
    // with its departure marker.
    membership.add('x', addr('x'));
    membership.add('y', addr('y'));
    depart('y');
    membership.setState('x', 'dead');
    membership.setState('y', 'dead');
    assert.equal(names(), 'a,self,x', 'x from the ghost; y left the ring');
  });

  it('drops a remembered node that a removal applies to', () => {
    const { tracker, names, live } = setup();
    tracker.restore([node('x', 30n)]);
    live(node('a', 10n), encodeRemovals([{ node: 'x', digest: tokensDigest([30n, 31n]), phase: 'removed' }]));
    assert.equal(names(), 'a,self');
    assert.deepEqual(tracker.rememberedOnly(), []);
  });

  it("keeps a restarted member's last advert until it publishes one, and drops it on the departure marker", () => {
    const { membership, tracker, names, live, depart } = setup();
    tracker.restore([]);
    live(node('a', 10n));
    assert.equal(names(), 'a,self');
    // a restarts: a new generation, its old state values gone at this node, no advert yet.
    for (const key of ['kv.0', 'kv.1']) membership.setValue('a', key, undefined);
    assert.equal(names(), 'a,self', 'a keeps its place until it publishes again');
    live(node('a', 10n));
    assert.equal(names(), 'a,self');
    // a leaves the ring: its departure marker takes it off at once.
    depart('a');
    assert.equal(names(), 'self');
  });

  it('publishes the departure marker when this node leaves the ring', () => {
    const { membership, tracker, live } = setup();
    tracker.restore([]);
    live(node('a', 10n));
    tracker.setOwn(undefined);
    const self = membership
      .viewFor('a')
      .members()
      .find((m) => m.name === 'self')!;
    assert.deepEqual(self.lookup(OFF_RING_KEY), Uint8Array.of(1));
    assert.equal(self.lookup('kv.0'), undefined, 'no advert');
  });
});
