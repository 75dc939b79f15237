import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Seed } from '../../core/index.js';
import { parseSeed } from '../../sim/index.js';
import { isStoreError } from '../errors.js';
import { SimStoreCluster } from './sim-cluster.js';

/**
 * Maintenance calls on three simulated members (real RaftNode, MVCC store, log): HashKV agrees
 * across members at a revision (before and after a compaction, whatever the physical deletion
 * has reached), MoveLeader hands leadership over with etcd's refusals, MemberUpdate changes peer
 * URLs through the log on every member. Seeds 1-3; `CAIRN_SEED=<s>` runs one.
 * Replay: CAIRN_SEED=<seed> node --import tsx --test src/store/server/maintenance.sim.test.ts
 */

const FILE = 'src/store/server/maintenance.sim.test.ts';
const seeds: Seed[] = process.env.CAIRN_SEED !== undefined ? [parseSeed(process.env.CAIRN_SEED)] : [1, 2, 3];
const enc = (s: string) => new TextEncoder().encode(s);

function forSeeds(name: string, body: (seed: Seed) => Promise<void>): void {
  it(name, async () => {
    for (const seed of seeds) {
      try {
        await body(seed);
      } catch (err) {
        process.stderr.write(
          `failing seed=${seed}; replay: CAIRN_SEED=${seed} node --import tsx --test ${FILE}\n`,
        );
        throw err;
      }
    }
  });
}

async function etcdError(c: SimStoreCluster, p: Promise<unknown>): Promise<string> {
  try {
    await c.run(p);
  } catch (err) {
    if (isStoreError(err)) return err.etcd;
    throw err;
  }
  return 'accepted';
}

describe('store maintenance on the simulator (3 members)', () => {
  forSeeds(
    'HashKV is the same on every member at the same revision, and tells states apart',
    async (seed) => {
      const c = new SimStoreCluster({ seed });
      const leader = await c.awaitLeader();
      for (let i = 0; i < 20; i++) await c.run(leader.put({ key: enc(`k${i % 7}`), value: enc(`v${i}`) }));
      await c.run(leader.deleteRange({ key: enc('k3') }));
      const mid = (await c.run(leader.put({ key: enc('mark'), value: enc('1') }))).header.revision;
      for (let i = 0; i < 5; i++) await c.run(leader.put({ key: enc(`k${i}`), value: enc(`w${i}`) }));
      await c.awaitApplied(c.upIds());
      const at = async (rev: number) => {
        const out = [];
        for (const id of c.upIds()) out.push(await c.run(c.up(id).hashKV(rev)));
        return out;
      };
      const hashesMid = await at(mid);
      assert.equal(
        new Set(hashesMid.map((h) => h.hash)).size,
        1,
        `hashes at ${mid}: ${JSON.stringify(hashesMid)}`,
      );
      const current = await at(0);
      assert.equal(new Set(current.map((h) => h.hash)).size, 1);
      assert.notEqual(current[0]!.hash, hashesMid[0]!.hash, 'later writes change the hash');
      // A compaction below `mid`: the hash at `mid` is the same on every member, and stays so while
      // and after physical deletion runs.
      await c.run(leader.compact({ revision: mid - 5 }));
      await c.awaitApplied(c.upIds());
      const early = await at(mid);
      await c.sim.runFor(2_000);
      await c.awaitApplied(c.upIds());
      const late = await at(mid);
      assert.equal(new Set([...early, ...late].map((h) => h.hash)).size, 1);
      assert.equal(late[0]!.compactRevision, mid - 5);
      assert.equal(await etcdError(c, leader.hashKV(mid - 6)), 'compacted');
      assert.equal(await etcdError(c, leader.hashKV(current[0]!.header.revision + 10)), 'futureRev');
      await c.stopAll();
    },
  );

  forSeeds('MoveLeader hands leadership to a voter; only the leader may be asked', async (seed) => {
    const c = new SimStoreCluster({ seed });
    const leader = await c.awaitLeader();
    const target = c.upIds().find((id) => id !== leader.id)!;
    assert.equal(await etcdError(c, c.up(target).moveLeader(leader.id)), 'notLeader');
    assert.equal(await etcdError(c, leader.moveLeader(999)), 'badLeaderTransferee');
    await c.run(leader.moveLeader(leader.id)); // itself: nothing to do
    await c.run(leader.moveLeader(target));
    const next = await c.awaitLeader();
    assert.equal(next.id, target);
    assert.equal(c.up(leader.id).localStatus().leader, target);
    await c.stopAll();
  });

  forSeeds('MemberUpdate replaces peer URLs through the log on every member', async (seed) => {
    const c = new SimStoreCluster({ seed });
    const leader = await c.awaitLeader();
    await c.sim.runFor(3_000); // members published their attributes
    const [a, b] = c.upIds().filter((id) => id !== leader.id) as [number, number];
    const res = await c.run(c.up(a).memberUpdate(b, ['http://10.9.9.9:2380']));
    assert.deepEqual(res.members.find((m) => m.id === b)?.peerUrls, ['http://10.9.9.9:2380']);
    await c.awaitApplied(c.upIds());
    for (const id of c.upIds()) {
      const m = (await c.run(c.up(id).memberList())).members.find((x) => x.id === b);
      assert.deepEqual(m?.peerUrls, ['http://10.9.9.9:2380'], `member ${id}'s table`);
      assert.equal(m?.name !== '', true, 'the name is kept');
    }
    const taken = c
      .up(a)
      .memberList()
      .then((l) => l.members.find((m) => m.id === leader.id)!.peerUrls);
    assert.equal(await etcdError(c, leader.memberUpdate(b, await c.run(taken))), 'peerURLExist');
    assert.equal(await etcdError(c, leader.memberUpdate(12345, ['http://10.9.9.8:2380'])), 'memberNotFound');
    assert.equal(await etcdError(c, leader.memberUpdate(b, ['not a url'])), 'memberBadURLs');
    await c.stopAll();
  });
});
