import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimRaftCluster } from './testing.js';

const SEED = Number(process.env.CAIRN_SEED ?? 1);
const FILE = 'src/raft/node/raft-node.test.ts';

/** Runs `fn` and, when it fails, prints the seed and the command that replays it. */
async function replayable(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    process.stderr.write(
      `FAIL [${name}] seed=${SEED}\nreplay: CAIRN_SEED=${SEED} node --import tsx --test --test-name-pattern=${JSON.stringify(name)} ${FILE}\n`,
    );
    throw err;
  }
}

describe('RaftNode on the simulator', () => {
  it('3 nodes elect one leader and replicate to the same state', () =>
    replayable('3 nodes elect one leader and replicate to the same state', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const leader = await c.awaitLeader();
      for (let i = 0; i < 20; i++) await c.put(`k${i}`, `v${i}`);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 20);
      const leaders = [...c.nodes.values()].filter((n) => n.status().role === 'leader');
      assert.equal(leaders.length, 1);
      assert.equal(c.appliers.get(2)!.kv.get('k7'), 'v7');
      // Every node saw the three bootstrap conf entries.
      for (const id of [1, 2, 3]) assert.equal(c.appliers.get(id)!.confs.length, 3);
      assert.ok(leader.status().commit >= 23);
    }));
});
