/**
 * Join repair: when many nodes join through one seed at once, some alive records run out of
 * retransmits before reaching everyone. A node whose peer's Scuttlebutt digest names a node it has
 * never heard of syncs with that peer at once, instead of waiting for the periodic push-pull.
 *
 * Run: node --import tsx --test test/sim/join-repair.test.ts
 * Replay one seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/join-repair.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Seed } from '../../src/core/index.js';
import { localConfig } from '../../src/membership/index.js';
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

describe('join repair through Scuttlebutt digests', () => {
  const name = '50 nodes joining one seed at once converge long before a push-pull';
  it(name, () =>
    forEachSeed(FILE, name, sweepSeeds(2, 6), async (seed) => {
      const cluster = await massJoin(seed);
      const triggered = total(cluster, 'triggeredSyncs');
      assert.ok(triggered > 0, 'no node needed a triggered sync, so this run did not test the repair');
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
});
