/**
 * Join repair: when many nodes join through one seed at once, some alive records run out of
 * retransmits before reaching everyone. A node that a direct Ack tells of more members than it
 * lists, and still lists fewer two anti-entropy intervals later, syncs with that acker (and a
 * Scuttlebutt digest naming an unknown node does the same), instead of waiting for the periodic
 * push-pull. A join or two that gossip is still spreading starts no sync.
 *
 * Run: node --import tsx --test test/sim/join-repair.test.ts
 * Replay one seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/join-repair.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Seed } from '../../src/core/index.js';
import { lanConfig, localConfig } from '../../src/membership/index.js';
import { forEachSeed, MembershipCluster, sweepSeeds } from './membership-harness.js';

const FILE = 'test/sim/join-repair.test.ts';

/**
 * 50 nodes joining one seed at once, joined. The periodic push-pull is out of reach: only gossip,
 * triggered and catch-up syncs can converge.
 */
async function massJoin(seed: Seed): Promise<MembershipCluster> {
  const cluster = await MembershipCluster.create({
    seed,
    size: 50,
    protocol: localConfig({ pushPullIntervalMs: 60_000 }),
  });
  await cluster.joinAll({ maxMs: 10_000 });
  return cluster;
}

/** The sum of one counter over the running nodes. */
function total(cluster: MembershipCluster, counter: 'triggeredSyncs' | 'catchUpSyncs'): number {
  return cluster.upNames().reduce((sum, n) => sum + cluster.node(n).stats[counter], 0);
}

describe('join repair through the member counts of acks', () => {
  const name =
    '50 nodes joining one seed at once converge long before a push-pull; one late join syncs nobody';
  it(name, () =>
    forEachSeed(FILE, name, sweepSeeds(2, 6), async (seed) => {
      const cluster = await massJoin(seed);
      const triggered = total(cluster, 'triggeredSyncs');
      assert.ok(triggered > 0, 'no node needed a triggered sync, so this run did not test the repair');
      // A stable cluster, then one node joins: gossip carries it to everyone, and the acks that
      // report one member more than the prober lists start no sync.
      await cluster.sim.runFor(10_000);
      const settled = total(cluster, 'triggeredSyncs');
      const late = cluster.addNode(50);
      await cluster.sim.runFor(1);
      let joinError: unknown;
      cluster
        .node(late)
        .join([cluster.sim.addressOf('n0')])
        .catch((err: unknown) => {
          joinError = err;
        });
      const names = cluster.upNames();
      await cluster.waitFor(
        'the late join',
        cluster.everyoneSeesAlive(names, () => names.length - 1),
        10_000,
      );
      assert.equal(joinError, undefined);
      await cluster.sim.runFor(5_000);
      const others = cluster.upNames().filter((n) => n !== late);
      const after = others.reduce((sum, n) => sum + cluster.node(n).stats.triggeredSyncs, 0);
      // A few syncs at most: a peer that gets the joiner's own Syn before its alive record syncs
      // with the joiner (the digest path). Syncing on every ack that reports one member more
      // would start one on about half the nodes.
      assert.ok(after - settled <= 4, `a single join started ${after - settled} syncs`);
    }),
  );
});

describe('catch-up syncs after a sync that taught new members', () => {
  const name = 'a mass join triggers follow-up syncs, and a stable cluster stops them';
  it(name, () =>
    forEachSeed(FILE, name, sweepSeeds(2, 6), async (seed) => {
      const cluster = await massJoin(seed);
      const catchUps = () => total(cluster, 'catchUpSyncs');
      const afterJoin = catchUps();
      assert.ok(afterJoin > 0, 'no sync taught a node new members, so this run did not test catch-up');
      // Let the last follow-ups run out, then nothing new is learned: no more catch-up syncs.
      await cluster.sim.runFor(5_000);
      const settled = catchUps();
      await cluster.sim.runFor(30_000);
      assert.equal(catchUps(), settled, 'catch-up syncs went on in a stable cluster');
    }),
  );

  const seedName = 'with gossip and probing off, one catch-up sync with the seed completes every view';
  it(seedName, () =>
    forEachSeed(FILE, seedName, sweepSeeds(2, 6), async (seed) => {
      // Only push-pulls carry members here. The seed every node joined through hears from every
      // joiner, so a node's first catch-up, with the seed, brings the whole cluster; a catch-up
      // with a random peer (an earlier joiner knowing little more) needed two or three each.
      const cluster = await MembershipCluster.create({
        seed,
        size: 32,
        protocol: lanConfig({ swim: { gossipNodes: 0, probing: false }, pushPullIntervalMs: 600_000 }),
      });
      await cluster.joinAll({ maxMs: 30_000 });
      const perNode = cluster.upNames().map((n) => cluster.node(n).stats.catchUpSyncs);
      assert.ok(
        perNode.every((c) => c <= 1),
        `catch-up syncs per node: ${perNode.join(' ')}`,
      );
      assert.ok(
        perNode.some((c) => c === 1),
        'no node needed a catch-up, so this run tested nothing',
      );
    }),
  );
});
