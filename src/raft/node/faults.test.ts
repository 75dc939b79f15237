import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Seed } from '../../core/index.js';
import { parseSeed } from '../../sim/index.js';
import type { NodeId } from '../types.js';
import { kvPut, nodeName, SimRaftCluster } from './testing.js';

/**
 * Randomized faults on the simulator: five voters on the durable segment log over simulated
 * files, with crashes that lose unsynced writes (and the in-memory state machine), restarts,
 * partitions (stalling or resetting open streams), pauses, clock skew, heals and membership changes, while writes are proposed. Checked all along: at most one leader per
 * term (election safety) and one entry per index across every state machine (state machine
 * safety); after healing: every node converges and the cluster takes writes (liveness).
 *
 * Seeds: 8 by default; `CAIRN_LONG=1` sweeps 100; `CAIRN_SEED=<s>` runs one.
 */

const FILE = 'src/raft/node/faults.test.ts';
const seeds: Seed[] =
  process.env.CAIRN_SEED !== undefined
    ? [parseSeed(process.env.CAIRN_SEED)]
    : Array.from({ length: process.env.CAIRN_LONG === '1' ? 100 : 8 }, (_, i) => i + 1);

async function runSeed(seed: Seed): Promise<void> {
  const leaders = new Map<number, NodeId>();
  const witness = new Map<number, string>();
  const c = new SimRaftCluster({
    seed,
    voters: 5,
    extra: 1,
    logStore: 'segment',
    witness,
    node: { snapshotEntries: 30, snapshotCatchUpEntries: 10, limits: { snapshotChunkBytes: 512 } },
    onStart: (node) =>
      node.onStatusChange((s) => {
        if (s.role !== 'leader') return;
        const other = leaders.get(s.term);
        if (other !== undefined && other !== node.id) {
          throw new Error(`election safety: ${other} and ${node.id} both lead term ${s.term}`);
        }
        leaders.set(s.term, node.id);
      }),
  });
  const rng = c.sim.rng.child('faults');
  const ids = [1, 2, 3, 4, 5];
  const down = new Set<NodeId>();
  // Clock skew: every node's clock is offset and drifts (up to 20% fast or slow), so ticks differ.
  for (const id of ids) {
    c.sim.setClockSkew(nodeName(id), { offsetMs: rng.int(10_000), drift: (rng.float() - 0.5) * 0.4 });
  }
  await c.awaitLeader();
  let written = 0;
  for (let round = 0; round < 40; round++) {
    const action = rng.int(8);
    if ((action === 0 || action === 4) && down.size < 2) {
      // Half of the crashes hit the leader: the case that matters most.
      const id = action === 4 ? (c.leader()?.id ?? 1) : ids[rng.int(ids.length)]!;
      if (!down.has(id)) {
        c.crash(id);
        down.add(id);
      }
    } else if (action === 1 && down.size > 0) {
      const id = [...down][rng.int(down.size)]!;
      c.restart(id);
      down.delete(id);
    } else if (action === 2 || action === 5) {
      const leader = c.leader()?.id;
      const shuffled = [...ids].sort(() => rng.float() - 0.5);
      const cut = action === 5 && leader !== undefined ? [leader] : shuffled.slice(0, 1 + rng.int(2));
      c.sim.network.partition(cut.map(nodeName), undefined, { streams: rng.chance(0.5) ? 'stall' : 'reset' });
    } else if (action === 3) {
      c.sim.network.heal();
    } else if (action === 7) {
      // Membership changes during faults: node 6 cycles learner -> voter -> removed -> learner.
      const leader = c.leader();
      const cs = leader?.status().confState;
      if (leader !== undefined && cs !== undefined) {
        const type = cs.learners.includes(6)
          ? 'addNode'
          : cs.voters.includes(6)
            ? 'removeNode'
            : 'addLearner';
        leader.proposeConfChange({ type, nodeId: 6 }).catch(() => {});
      }
    } else if (action === 6) {
      const id = ids[rng.int(ids.length)]!;
      if (!down.has(id) && c.sim.nodeState(nodeName(id)) === 'up')
        c.sim.pause(nodeName(id), 200 + rng.int(2000));
    }
    for (let i = 0; i < 5; i++) {
      const leader = c.leader();
      if (leader !== undefined) {
        leader.propose(kvPut(`k${written % 40}`, `${written}`)).catch(() => {});
        written++;
      }
      await c.sim.runFor(20 + rng.int(200));
      c.checkHealthy();
    }
  }
  c.sim.network.heal();
  for (const id of down) c.restart(id);
  await c.awaitLeader(60_000);
  await c.put('final', 'write');
  await c.awaitConverged(ids, (kv) => kv.kv.get('final') === 'write', 60_000);
  // Node 6 converges too when the final configuration (all changes applied) still has it.
  const cs = c.leader()!.status().confState;
  assert.ok(
    ids.every((id) => cs.voters.includes(id)),
    'the five voters are still voters',
  );
  if (cs.voters.includes(6) || cs.learners.includes(6)) {
    await c.awaitConverged([...ids, 6], (kv) => kv.kv.get('final') === 'write', 60_000);
  }
  assert.ok(leaders.size >= 1);
  if (process.env.RAFT_DEBUG)
    console.log(seed, {
      cs,
      written,
      terms: leaders.size,
      indexes: witness.size,
      snaps: [...c.nodes.values()].map((n) => n.stats.snapshotsReceived),
      simMs: c.sim.elapsedMs,
    });
}

describe('RaftNode under random faults', () => {
  it('keeps election and state machine safety, and converges after healing', async () => {
    for (const seed of seeds) {
      try {
        await runSeed(seed);
      } catch (err) {
        process.stderr.write(
          `FAIL seed=${String(seed)}\nreplay: CAIRN_SEED=${String(seed)} node --import tsx --test ${FILE}\n`,
        );
        throw err;
      }
    }
  });
});
