import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Rng, systemClock } from '../../core/index.js';
import { NetTransport } from '../../transport/index.js';
import type { NodeId } from '../types.js';
import { MemoryRaftLogStore } from './memory-log-store.js';
import { RaftNode } from './raft-node.js';
import { KvApplier, kvPut } from './testing.js';

/**
 * Three raft nodes on real loopback sockets (NetTransport) and the system clock: the same driver
 * as in simulation, over TCP. Conditions are awaited by polling them (bounded), never by sleeping
 * a fixed time.
 */

const SEED = Number(process.env.CAIRN_SEED ?? 1);

/** Polls `predicate` every few ms until it holds; fails after `timeoutMs`. */
async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (seed=${SEED})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('RaftNode over loopback TCP', () => {
  const transports: NetTransport[] = [];
  const nodes = new Map<NodeId, RaftNode>();
  const appliers = new Map<NodeId, KvApplier>();

  after(async () => {
    for (const n of nodes.values()) await n.stop();
    for (const t of transports) await t.close();
  });

  it('3 nodes elect a leader, replicate, and serve a linearizable read on a follower', async () => {
    for (let i = 0; i < 3; i++) transports.push(await NetTransport.create({ host: '127.0.0.1', port: 0 }));
    const address = (id: NodeId) => transports[id - 1]?.localAddress;
    const root = Rng.fromSeed(SEED);
    for (const id of [1, 2, 3]) {
      const applier = new KvApplier();
      appliers.set(id, applier);
      nodes.set(
        id,
        await RaftNode.start({
          id,
          transport: transports[id - 1]!,
          resolve: address,
          clock: systemClock,
          rng: root.child(`node-${id}`),
          logStore: new MemoryRaftLogStore(),
          applier,
          bootstrap: { voters: [1, 2, 3], learners: [] },
          tickMs: 10,
        }),
      );
    }
    const leaderOf = () => [...nodes.values()].find((n) => n.status().role === 'leader');
    await until('a leader', () => {
      const l = leaderOf();
      return l !== undefined && [...nodes.values()].every((n) => n.status().lead === l.id);
    });
    const leader = leaderOf()!;
    await Promise.all(Array.from({ length: 50 }, (_, i) => leader.propose(kvPut(`k${i}`, `v${i}`))));
    await until('the leader applied 50 puts', () => appliers.get(leader.id)!.kv.size === 50);
    const follower = [...nodes.values()].find((n) => n.id !== leader.id)!;
    const index = await follower.readIndex();
    assert.ok(index <= appliers.get(follower.id)!.applied);
    assert.equal(appliers.get(follower.id)!.kv.size, 50, 'the read sees every acknowledged write');
    await until('every node applied the same state', () => {
      const prints = [...appliers.values()].map((a) => a.fingerprint());
      return prints.every((p) => p === prints[0]);
    });
    assert.ok(leader.stats.framesSent > 0);
    assert.equal(leader.stats.badFrames + follower.stats.badFrames, 0);
  });
});
