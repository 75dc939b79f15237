import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, Rng } from '../../core/index.js';
import type { Transport } from '../../transport/types.js';
import { bootstrapState } from '../core/index.js';
import { isRaftError } from '../errors.js';
import { MemoryRaftLogStore } from './memory-log-store.js';
import { RaftNode } from './raft-node.js';
import { isStateMachineMarker, STATE_MACHINE_MARKER } from './snapshot-marker.js';
import {
  compactWhileDown,
  KvApplier,
  learnerAfterCompaction,
  PersistingKvApplier,
  replayable as replayableAt,
  SimRaftCluster,
} from './testing.js';

const SEED = Number(process.env.CAIRN_SEED ?? 1);
const FILE = 'src/raft/node/metadata-snapshot.test.ts';

/** The shared `replayable` of `testing.ts`, with this file's name and seed. */
function replayable(name: string, fn: () => Promise<void>): Promise<void> {
  return replayableAt(FILE, SEED, name, fn);
}

function persisting(c: SimRaftCluster, id: number): PersistingKvApplier {
  const a = c.appliers.get(id);
  assert.ok(a instanceof PersistingKvApplier);
  return a;
}

/** Three persisting nodes, one down while the others compacted past it (compactWhileDown). */
async function laggingBehindCompaction(): Promise<{ c: SimRaftCluster; lagging: number }> {
  const c = new SimRaftCluster({
    seed: SEED,
    voters: 3,
    applier: 'persisting',
    node: { snapshotEntries: 20, snapshotCatchUpEntries: 5, limits: { snapshotChunkBytes: 256 } },
  });
  return { c, lagging: await compactWhileDown(c) };
}

describe('RaftNode metadata-only snapshots (an applier with persist)', () => {
  it('persists the state machine, then saves a snapshot without an image, then compacts', () =>
    replayable('metadata snapshot taken', async () => {
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        applier: 'persisting',
        node: { snapshotEntries: 10, snapshotCatchUpEntries: 2 },
      });
      await c.awaitLeader();
      for (let i = 0; i < 30; i++) await c.put(`k${i}`, `${i}`);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 30);
      for (const id of [1, 2, 3]) {
        const node = c.nodes.get(id)!;
        const applier = persisting(c, id);
        const { snapshot } = await c.stores.get(id)!.load();
        assert.ok(snapshot !== undefined && snapshot.meta.index >= 20, `node ${id} saved a snapshot`);
        assert.ok(isStateMachineMarker(snapshot.data), `node ${id}: the snapshot holds no image`);
        assert.equal(node.status().snapshotIndex, snapshot.meta.index);
        assert.ok(
          applier.persists >= 1,
          `persists ${applier.persists} snap ${snapshot.meta.index} durable ${applier.durableIndex} applied ${applier.applied}`,
        );
        assert.ok(applier.durableIndex >= snapshot.meta.index, 'durable before the snapshot was saved');
        assert.equal(applier.images, 0, 'no image was built');
      }
      c.checkHealthy();
    }));

  it('a restarted node resumes after its durable state, from the metadata snapshot and the log', () =>
    replayable('metadata snapshot restart', async () => {
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        applier: 'persisting',
        node: { snapshotEntries: 10, snapshotCatchUpEntries: 50 },
      });
      await c.awaitLeader();
      for (let i = 0; i < 25; i++) await c.put(`a${i}`, `${i}`);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 25);
      const id = [1, 2, 3].find((x) => x !== c.leader()!.id)!;
      c.crash(id);
      const revived = persisting(c, id);
      const snapIndex = (await c.stores.get(id)!.load()).snapshot!.meta.index;
      assert.ok(snapIndex >= 20);
      assert.ok(revived.applied >= snapIndex, 'the durable state is the persisted one');
      for (let i = 0; i < 10; i++) await c.put(`b${i}`, `${i}`);
      c.restart(id);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 35);
      assert.equal(c.appliers.get(id), revived, 'the same state machine');
      assert.equal(revived.restores, 0, 'no snapshot was installed');
      assert.equal(revived.replays, 0, 'nothing at or below its durable index was given again');
      assert.equal(revived.kv.get('a24'), '24');
      c.checkHealthy();
    }));

  it('a follower behind the compacted log catches up from an image built at send time', () =>
    replayable('send-time image', async () => {
      const { c, lagging } = await laggingBehindCompaction();
      const leader = c.leader()!;
      const held = leader.status().snapshotIndex;
      assert.ok(held >= 40, 'the leader took a snapshot');
      c.restart(lagging);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 61);
      const follower = persisting(c, lagging);
      assert.ok(follower.restores >= 1, 'the lagging node installed a snapshot');
      assert.ok(
        follower.lastRestoredIndex >= held,
        `at the applied index of the send (${follower.lastRestoredIndex}), not below the held one (${held})`,
      );
      const others = [1, 2, 3].filter((id) => id !== lagging);
      const images = others.reduce((n, id) => n + persisting(c, id).images, 0);
      const sent = () => others.reduce((n, id) => n + c.nodes.get(id)!.stats.snapshotsSent, 0);
      assert.ok(images >= 1, 'the leader built the image when sending');
      // The image was at the leader's applied index, so the follower converged on installing it,
      // possibly before the leader heard the transfer's ack.
      await c.sim.runUntil(() => sent() >= 1, { maxMs: 5_000 });
      assert.ok(sent() >= 1, 'the transfer was acknowledged');
      assert.equal(leader.stats.snapshotsFailed, 0);
      const saved = (await c.stores.get(leader.id)!.load()).snapshot!;
      assert.ok(isStateMachineMarker(saved.data), 'the image was not saved on the leader');
      // The follower saved the received image (it may since have replaced it with its own marker).
      c.checkHealthy();
    }));

  it('builds a send-time image beside the Ready loop: the leader commits and applies while it is made', () =>
    replayable('image beside the loop', async () => {
      const { c, lagging } = await laggingBehindCompaction();
      const leader = c.leader()!;
      const applier = persisting(c, leader.id);
      // The leader's images settle only once released (each is of the state when asked for).
      let release: () => void = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const build = applier.snapshot.bind(applier);
      let asked = 0;
      applier.snapshot = () => {
        asked++;
        const image = build();
        return released.then(() => image);
      };
      c.restart(lagging);
      await c.sim.runUntil(() => asked >= 1, { maxMs: 10_000 });
      assert.equal(asked, 1, 'the leader asked for an image to send');
      for (let i = 0; i < 5; i++) await c.put(`during-${i}`, 'v');
      await c.sim.runUntil(() => applier.kv.has('during-4'), { maxMs: 5_000 });
      assert.equal(applier.kv.get('during-4'), 'v', 'the leader applied while the image was made');
      assert.equal(asked, 1, 'one image at a time for the peer');
      release();
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 66);
      assert.ok(persisting(c, lagging).restores >= 1, 'the lagging node installed the image');
      assert.equal(leader.stats.snapshotsFailed, 0);
      c.checkHealthy();
    }));

  it('a learner added after compaction starts from a send-time image naming it', () =>
    replayable('learner from send-time image', async () => {
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        extra: 1,
        applier: 'persisting',
        node: { snapshotEntries: 10, snapshotCatchUpEntries: 2, limits: { snapshotChunkBytes: 100 } },
      });
      const learner = await learnerAfterCompaction(c);
      assert.equal(c.appliers.get(4)!.restores, 1);
      assert.deepEqual(learner.status().confState, { voters: [1, 2, 3], learners: [4] });
      c.checkHealthy();
    }));

  it('refuses to start when the state machine is behind a metadata-only snapshot', async () => {
    const store = new MemoryRaftLogStore();
    const conf = { voters: [1, 2, 3], learners: [] };
    const boot = bootstrapState(conf);
    await store.save({ term: 2, vote: 1, commit: 50 }, boot.entries, true);
    await store.saveSnapshot({ meta: { index: 50, term: 2, confState: conf }, data: STATE_MACHINE_MARKER });
    const applier = new PersistingKvApplier();
    applier.applied = 10;
    const unused = new Proxy({} as Transport, {
      get: () => {
        throw new Error('the transport must not be used');
      },
    });
    await assert.rejects(
      RaftNode.start({
        id: 1,
        transport: unused,
        resolve: () => undefined,
        clock: new ManualClock(),
        rng: Rng.fromSeed(SEED),
        logStore: store,
        applier,
      }),
      (err: unknown) =>
        isRaftError(err, 'CORRUPT') && /below the metadata-only snapshot at 50/.test(String(err)),
    );
    assert.equal(applier.restores, 0, 'the marker was never restored');
  });

  it('an applier without persist still takes full-image snapshots', () =>
    replayable('full image without persist', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3, node: { snapshotEntries: 10 } });
      await c.awaitLeader();
      for (let i = 0; i < 15; i++) await c.put(`k${i}`, `${i}`);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 15);
      const { snapshot } = await c.stores.get(1)!.load();
      assert.ok(snapshot !== undefined && snapshot.meta.index >= 10);
      assert.ok(!isStateMachineMarker(snapshot.data));
      assert.ok(c.appliers.get(1) instanceof KvApplier);
    }));
});
