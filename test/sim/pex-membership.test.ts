/**
 * Peer sampling inside membership: PeX runs beside SWIM as a fallback seed source, and a node that
 * lost every peer re-seeds by itself once the network heals.
 *
 * Run: node --import tsx --test test/sim/pex-membership.test.ts
 * Replay one seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/pex-membership.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testPexConfig } from '../../src/membership/pex/index.js';
import { defaultNodeAddress } from '../../src/sim/index.js';
import { forEachSeed, MembershipCluster, sweepSeeds } from './membership-harness.js';

const FILE = 'test/sim/pex-membership.test.ts';

/** Every node but n0 has n0 as its seed, and runs PeX. */
function withPex(seed: number | string, size: number): Promise<MembershipCluster> {
  return MembershipCluster.create({
    seed,
    size,
    options: (i) => ({ pex: testPexConfig(), seeds: i === 0 ? [] : [defaultNodeAddress(0)] }),
  });
}

describe('membership with PeX', () => {
  const sampleName = 'fills each node a PeX view of real members';
  it(sampleName, () =>
    forEachSeed(FILE, sampleName, sweepSeeds(1, 4), async (seed) => {
      const cluster = await withPex(seed, 20);
      await cluster.joinAll({ maxMs: 30_000 });
      await cluster.sim.runFor(5_000);
      const names = cluster.upNames();
      const known = new Set(names.map((n) => cluster.sim.addressOf(n)));
      for (const name of names) {
        const peers = cluster.node(name).samplePeers(3);
        assert.ok(peers.length > 0, `${name} has an empty PeX view`);
        for (const p of peers)
          assert.ok(known.has(p) && p !== cluster.sim.addressOf(name), `${name} sampled ${p}`);
      }
    }),
  );

  const reseedName = 're-seeds a node that lost every peer once the network heals';
  it(reseedName, () =>
    forEachSeed(FILE, reseedName, sweepSeeds(1, 4), async (seed) => {
      const cluster = await withPex(seed, 8);
      await cluster.joinAll({ maxMs: 30_000 });
      const lonely = cluster.node('n5');
      cluster.sim.network.isolate('n5');
      // Both sides declare each other dead (or have already reaped the dead entry).
      const gone = (state: string | undefined) => state === undefined || state === 'dead';
      await cluster.waitFor(
        'the isolated node and the others give each other up',
        () =>
          lonely.members().every((x) => x.local || gone(x.state)) &&
          cluster.upNames().every((n) => n === 'n5' || gone(cluster.node(n).member(lonely.id)?.state)),
        60_000,
      );
      cluster.sim.network.heal();
      const names = cluster.upNames();
      await cluster.waitFor(
        'the cluster reconverges after the heal',
        cluster.everyoneSeesAlive(names, () => names.length - 1),
        60_000,
      );
      assert.ok(lonely.stats.reseeds > 0, 'the lonely node should have re-seeded');
    }),
  );
});
