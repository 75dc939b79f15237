import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../../core/index.js';
import type { Transport } from '../../transport/types.js';
import type { Message } from '../types.js';
import {
  compactWhileDown,
  kvPut,
  learnerAfterCompaction,
  nodeName,
  replayable as replayableAt,
  SimRaftCluster,
} from './testing.js';
import { encodeHello, WireCodec } from './wire.js';

const SEED = Number(process.env.CAIRN_SEED ?? 1);
const FILE = 'src/raft/node/raft-node.test.ts';

/** The shared `replayable` of `testing.ts`, with this file's name and seed. */
function replayable(name: string, fn: () => Promise<void>): Promise<void> {
  return replayableAt(FILE, SEED, name, fn);
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

describe('RaftNode with scheduled sends', () => {
  it("a follower's proposals from separate turns leave as one request in one frame at the scheduled turn", () =>
    replayable('proposals from separate turns leave as one frame', async () => {
      let scheduled = 0;
      const holder: { c?: SimRaftCluster } = {};
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        node: {
          scheduleSends: (run) => {
            scheduled++;
            holder.c!.sim.schedule(0, run);
          },
        },
      });
      holder.c = c;
      const leader = await c.awaitLeader();
      // A proposal resolves at the scheduled turn, which runs on the simulator's time.
      const warm = leader.propose(kvPut('warm', 'up'));
      await c.sim.runFor(1);
      await warm;
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.has('warm'));
      const follower = [...c.nodes.values()].find((n) => n.id !== leader.id)!;
      const frames = follower.stats.framesSent;
      const messages = follower.stats.messagesSent;
      const before = scheduled;
      const done: Promise<void>[] = [];
      for (let i = 0; i < 10; i++) {
        done.push(follower.propose(kvPut(`k${i}`, `${i}`)));
        // Separate turns of the event loop: without the scheduled turn, one Ready each.
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(follower.stats.framesSent, frames, 'nothing leaves before the scheduled turn');
      assert.equal(scheduled, before + 1, 'one turn scheduled for the ten proposals');
      await c.sim.runFor(1);
      await Promise.all(done);
      assert.equal(follower.stats.framesSent, frames + 1);
      assert.equal(follower.stats.messagesSent, messages + 1, 'one forwarded request for the ten');
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 11);
      c.checkHealthy();
    }));
});

describe('RaftNode commit notices', () => {
  it('followers learn the commit of a lone proposal at once, not at the next heartbeat', () =>
    replayable('followers learn the commit of a lone proposal at once', async () => {
      // Ticks of 1 s: a heartbeat within the 200 ms below would tell the commit too.
      const c = new SimRaftCluster({ seed: SEED, voters: 3, node: { tickMs: 1000 } });
      const leader = await c.awaitLeader(60_000);
      await c.sim.runFor(1500);
      await leader.propose(kvPut('lone', 'x'));
      await c.sim.runFor(200);
      for (const id of [1, 2, 3]) assert.equal(c.appliers.get(id)!.kv.get('lone'), 'x', `node ${id}`);
      c.checkHealthy();
    }));
});

describe('RaftNode proposal batches', () => {
  it("a follower's proposals from one turn leave as one request, applied in call order", () =>
    replayable('proposals from one turn leave as one request', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const leader = await c.awaitLeader();
      await c.put('warm', 'up');
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.has('warm'));
      const follower = [...c.nodes.values()].find((n) => n.id !== leader.id)!;
      const messages = follower.stats.messagesSent;
      const calls = Array.from({ length: 10 }, (_, i) => follower.propose(kvPut('same', `${i}`)));
      await c.settle(Promise.all(calls));
      assert.equal(follower.stats.messagesSent, messages + 1, 'one forwarded proposal for the ten');
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.get('same') === '9');
      c.checkHealthy();
    }));

  it('a conf change hands over the proposals made before it first', () =>
    replayable('conf change after proposals', async () => {
      const witness = new Map<number, string>();
      const c = new SimRaftCluster({ seed: SEED, voters: 3, witness });
      const leader = await c.awaitLeader();
      const data = kvPut('before', 'conf');
      const put = leader.propose(data);
      const conf = leader.proposeConfChange({ type: 'addLearner', nodeId: 4 });
      await c.settle(Promise.all([put, conf]));
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.has('before') && kv.confs.length === 4);
      const at = (what: (entry: string) => boolean) => [...witness].find(([, e]) => what(e))?.[0] ?? -1;
      const putIndex = at((e) => e.endsWith(`:normal:${toHex(data)}`));
      const confIndex = Math.max(...[...witness].filter(([, e]) => e.includes(':conf:')).map(([i]) => i));
      assert.ok(putIndex > 0 && putIndex < confIndex, `put at ${putIndex}, conf change at ${confIndex}`);
    }));
});

describe('RaftNode determinism', () => {
  it('the same seed replays the same run (trace hash, leader, terms)', async () => {
    const run = async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const leader = await c.awaitLeader();
      for (let i = 0; i < 5; i++) await c.put(`k${i}`, `${i}`);
      c.crash(leader.id);
      await c.awaitLeader();
      await c.sim.runFor(1000);
      return `${c.sim.traceHash()} ${leader.id} ${c.leader()!.id} ${c.leader()!.status().term}`;
    };
    assert.equal(await run(), await run());
  });
});

describe('RaftNode crash, restart and snapshots', () => {
  it('a crashed leader restarts from its log store, the cluster goes on and everyone converges', () =>
    replayable('a crashed leader restarts', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const first = await c.awaitLeader();
      for (let i = 0; i < 10; i++) await c.put(`a${i}`, `${i}`);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 10);
      c.crash(first.id);
      const second = await c.awaitLeader();
      assert.notEqual(second.id, first.id);
      for (let i = 0; i < 10; i++) await c.put(`b${i}`, `${i}`);
      c.restart(first.id);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 20);
      // The restarted node began with an empty state machine and replayed the log.
      assert.equal(c.appliers.get(first.id)!.kv.get('a3'), '3');
      assert.equal(c.nodes.get(first.id)!.status().term >= second.status().term, true);
    }));

  it('a node whose state machine kept its state resumes after it: nothing is applied twice', () =>
    replayable('durable applier resumes', async () => {
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        node: { snapshotEntries: 8, snapshotCatchUpEntries: 50 },
      });
      await c.awaitLeader();
      for (let i = 0; i < 20; i++) await c.put(`a${i}`, `${i}`);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 20);
      const id = [1, 2, 3].find((x) => x !== c.leader()!.id)!;
      const applier = c.appliers.get(id)!;
      const before = applier.applied;
      c.crash(id, { loseApplied: false });
      for (let i = 0; i < 10; i++) await c.put(`b${i}`, `${i}`);
      c.restart(id);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 30);
      assert.equal(c.appliers.get(id), applier, 'the same state machine');
      assert.equal(applier.replays, 0, 'no entry was given twice');
      assert.equal(applier.restores, 0, 'no snapshot was needed');
      assert.ok(applier.applied > before);
      assert.ok(c.nodes.get(id)!.status().snapshotIndex > 0);
    }));

  it('a removed leader steps down and the rest go on', () =>
    replayable('remove leader', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const leader = await c.awaitLeader();
      await c.put('a', '1');
      const cs = await c.settle(leader.proposeConfChange({ type: 'removeNode', nodeId: leader.id }));
      assert.deepEqual(cs.voters.includes(leader.id), false);
      const rest = [1, 2, 3].filter((id) => id !== leader.id);
      await c.sim.runUntil(() => {
        const l = c.leader();
        return l !== undefined && l.id !== leader.id;
      });
      assert.notEqual(c.leader()!.id, leader.id);
      await c.put('b', '2');
      await c.awaitConverged(rest, (kv) => kv.kv.get('b') === '2');
    }));

  it('a node that was down while the log was compacted catches up from a chunked snapshot', () =>
    replayable('chunked snapshot', async () => {
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        node: { snapshotEntries: 20, snapshotCatchUpEntries: 5, limits: { snapshotChunkBytes: 256 } },
      });
      const lagging = await compactWhileDown(c);
      const leader = c.leader()!;
      assert.ok(leader.status().snapshotIndex >= 40, 'the leader took a snapshot');
      c.restart(lagging);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 61);
      const node = c.nodes.get(lagging)!;
      assert.ok(node.stats.snapshotsReceived >= 1, 'the lagging node received a snapshot');
      assert.ok(c.appliers.get(lagging)!.restores >= 1, 'and restored its state from it');
      assert.ok(leader.stats.snapshotsSent >= 1);
      assert.equal(leader.stats.snapshotsFailed, 0);
    }));
});

describe('RaftNode membership, reads and leadership', () => {
  it('adds a learner, which catches up, then promotes it to voter', () =>
    replayable('learner then promote', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3, extra: 1 });
      const leader = await c.awaitLeader();
      for (let i = 0; i < 10; i++) await c.put(`k${i}`, `${i}`);
      const cs = await c.settle(leader.proposeConfChange({ type: 'addLearner', nodeId: 4 }));
      assert.deepEqual(cs, { voters: [1, 2, 3], learners: [4] });
      await c.awaitConverged([1, 2, 3, 4], (kv) => kv.kv.size === 10);
      const learner = c.nodes.get(4)!;
      assert.deepEqual(learner.status().confState, { voters: [1, 2, 3], learners: [4] });
      assert.equal(learner.status().lead, leader.id);
      // A learner never campaigns: its state stays follower.
      assert.equal(learner.status().role, 'follower');
      const promoted = await c.settle(c.leader()!.proposeConfChange({ type: 'addNode', nodeId: 4 }));
      assert.deepEqual(promoted, { voters: [1, 2, 3, 4], learners: [] });
      await c.put('after', 'promotion');
      await c.awaitConverged([1, 2, 3, 4], (kv) => kv.kv.size === 11);
      assert.deepEqual(learner.status().confState, { voters: [1, 2, 3, 4], learners: [] });
    }));

  it('a learner added after compaction starts from a snapshot', () =>
    replayable('learner from snapshot', async () => {
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        extra: 1,
        node: { snapshotEntries: 10, snapshotCatchUpEntries: 2, limits: { snapshotChunkBytes: 100 } },
      });
      const learner = await learnerAfterCompaction(c);
      assert.equal(c.appliers.get(4)!.restores, 1);
      assert.ok(learner.stats.snapshotsReceived >= 1);
      assert.deepEqual(learner.status().confState, { voters: [1, 2, 3], learners: [4] });
    }));

  it('a second conf change while one is pending is refused with CONF_CHANGE_PENDING', () =>
    replayable('conf change pending', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3, extra: 2 });
      const leader = await c.awaitLeader();
      const first = leader.proposeConfChange({ type: 'addLearner', nodeId: 4 });
      await assert.rejects(leader.proposeConfChange({ type: 'addLearner', nodeId: 5 }), {
        name: 'RaftError',
        code: 'CONF_CHANGE_PENDING',
      });
      await c.settle(first);
    }));

  it('readIndex after a leader change sees every write acknowledged before it', () =>
    replayable('readIndex after leader change', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const first = await c.awaitLeader();
      await c.put('a', '1');
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 1);
      c.crash(first.id);
      const second = await c.awaitLeader();
      await c.put('b', '2');
      // Wait until the write is committed on the leader (acknowledged), not yet applied elsewhere.
      await c.sim.runUntil(() => c.appliers.get(second.id)!.kv.has('b'));
      const follower = [...c.nodes.values()].find((n) => n.id !== second.id)!;
      // Many concurrent reads share one read-index request.
      const reads = Array.from({ length: 50 }, () => follower.readIndex());
      const indexes = await c.settle(Promise.all(reads));
      const applier = c.appliers.get(follower.id)!;
      assert.equal(applier.kv.get('b'), '2', 'the read index covers the acknowledged write');
      for (const i of indexes) assert.ok(i <= applier.applied);
      assert.ok(
        new Set(indexes).size <= 2,
        `50 concurrent reads were batched (indexes ${[...new Set(indexes)]})`,
      );
      // On the leader too.
      const idx = await c.settle(second.readIndex());
      assert.ok(idx >= c.appliers.get(second.id)!.applied - 1);
    }));

  it('a follower forwards proposals to the leader; an aborted call rejects with CANCELLED', () =>
    replayable('follower forwards', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const leader = await c.awaitLeader();
      const follower = [...c.nodes.values()].find((n) => n.id !== leader.id)!;
      for (let i = 0; i < 5; i++) await follower.propose(kvPut(`f${i}`, `${i}`));
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 5);
      const ctl = new AbortController();
      ctl.abort();
      await assert.rejects(follower.propose(kvPut('x', 'y'), ctl.signal), { code: 'CANCELLED' });
      const late = new AbortController();
      const read = follower.readIndex(late.signal);
      late.abort();
      await assert.rejects(read, { code: 'CANCELLED' });
    }));

  it('transfers leadership to a chosen voter', () =>
    replayable('transfer leadership', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const leader = await c.awaitLeader();
      await c.put('a', '1');
      const target = [1, 2, 3].find((id) => id !== leader.id)!;
      await c.settle(leader.transferLeadership(target));
      await c.awaitLeader();
      assert.equal(c.leader()!.id, target);
    }));

  it('stop rejects pending calls with STOPPED and later calls too', () =>
    replayable('stop rejects', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      const leader = await c.awaitLeader();
      const follower = [...c.nodes.values()].find((n) => n.id !== leader.id)!;
      const read = follower.readIndex();
      read.catch(() => {});
      await follower.stop();
      await assert.rejects(read, { code: 'STOPPED' });
      await assert.rejects(follower.propose(new Uint8Array([1])), { code: 'STOPPED' });
    }));
});

describe('RaftNode on the durable segment log (simulated files)', () => {
  it('crashes that lose unsynced data: the restarted nodes recover every acknowledged entry', () =>
    replayable('segment log crash', async () => {
      const c = new SimRaftCluster({
        seed: SEED,
        voters: 3,
        logStore: 'segment',
        node: { snapshotEntries: 25 },
      });
      const first = await c.awaitLeader();
      for (let i = 0; i < 30; i++) await c.put(`a${i}`, `${i}`);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 30);
      c.crash(first.id);
      await c.awaitLeader();
      for (let i = 0; i < 30; i++) await c.put(`b${i}`, `${i}`);
      const second = c.leader()!;
      c.restart(first.id);
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 60);
      // Crash the new leader right after proposals, before they are all synced anywhere.
      for (let i = 0; i < 5; i++) await c.put(`c${i}`, `${i}`);
      c.crash(second.id);
      c.restart(second.id);
      await c.awaitLeader();
      await c.put('last', 'write');
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.has('last') && kv.kv.size >= 61);
      for (let i = 0; i < 30; i++) assert.equal(c.appliers.get(second.id)!.kv.get(`b${i}`), `${i}`);
      assert.ok(
        c.nodes.get(first.id)!.status().snapshotIndex > 0,
        'snapshots were taken and survive restarts',
      );
    }));
});

describe('RaftNode against a hostile peer', () => {
  it('malformed, misaddressed and spoofed frames are dropped and counted; the cluster goes on', () =>
    replayable('hostile peer', async () => {
      const c = new SimRaftCluster({ seed: SEED, voters: 3 });
      let rogue: Transport | undefined;
      c.sim.addNode(nodeName(4), (ctx) => {
        rogue = ctx.transport();
        return {};
      });
      const leader = await c.awaitLeader();
      const target = c.nodes.get(1)!;
      const to = c.sim.addressOf(nodeName(1));
      const send = async (frames: Uint8Array[]) => {
        const stream = await c.settle(rogue!.dial(to));
        for (const f of frames) stream.send(f);
        await c.sim.runFor(50);
        return stream;
      };
      const codec = new WireCodec();
      const hello = encodeHello({ from: 4, to: 1, kind: 'msg' });
      const heartbeat = (from: number) =>
        codec.encodeBatch([
          {
            type: 'heartbeat',
            from,
            to: 1,
            term: 99,
            logTerm: 0,
            index: 0,
            entries: [],
            commit: 0,
            reject: false,
            rejectHint: 0,
          },
        ]);
      // Offsets in a one-message batch frame (wire-batch.ts): type at 3, flags at 4, term at 21.
      const patched = (at: number, write: (view: DataView) => void, extra: number[] = []) => {
        const frame = new Uint8Array([...heartbeat(4), ...extra]);
        write(new DataView(frame.buffer, at));
        return frame;
      };
      // 1. Not a batch frame at all, after a good hello.
      const s1 = await send([hello, new Uint8Array([0xc1, 0xff, 0x00])]);
      assert.equal(target.stats.badFrames, 1);
      assert.equal(s1.open, false, 'the stream of a bad frame is closed');
      // 2. Well-formed, but a message in another member's name.
      await send([hello, heartbeat(2)]);
      assert.equal(target.stats.badFrames, 2);
      // 3. A negative term, an oversized context, an unknown type code.
      await send([hello, patched(21, (d) => d.setFloat64(0, -1))]);
      await send([hello, patched(4, (d) => d.setUint8(0, 2), [0, 0, 0x13, 0x88])]);
      await send([hello, patched(3, (d) => d.setUint8(0, 77))]);
      assert.equal(target.stats.badFrames, 5);
      // 4. A hello in the name of member 2 from the rogue's address is refused.
      const refusedBefore = target.stats.streamsRefused;
      await send([encodeHello({ from: 2, to: 1, kind: 'msg' }), heartbeat(2)]);
      assert.equal(target.stats.streamsRefused, refusedBefore + 1);
      // 5. A snapshot whose data does not match its checksum.
      const snap: Message = {
        type: 'snap',
        from: 4,
        to: 1,
        term: 99,
        logTerm: 0,
        index: 0,
        entries: [],
        commit: 0,
        reject: false,
        rejectHint: 0,
        snapshot: {
          meta: { index: 1000, term: 99, confState: { voters: [4], learners: [] } },
          data: new Uint8Array(10),
        },
      };
      await send([
        encodeHello({ from: 4, to: 1, kind: 'snap' }),
        codec.encodeSnapshotHeader(snap, 10, new Uint8Array(32)),
        codec.encodeChunk(new Uint8Array(10)),
      ]);
      assert.equal(target.stats.badFrames, 6);
      assert.equal(target.stats.snapshotsReceived, 0);
      // 6. A silent stream is closed after helloTimeoutMs; a peer's second message stream replaces its first.
      const silent = await send([]);
      await c.sim.runFor(10_000);
      assert.equal(silent.open, false, 'a stream without a hello is closed');
      const older = await send([hello]);
      const newer = await send([hello]);
      assert.equal(older.open, false, 'the older message stream of the same peer is closed');
      assert.equal(newer.open, true);
      // Nothing of it reached the core: the term is unchanged, and the cluster still works.
      assert.equal(target.status().term, leader.status().term);
      await c.put('still', 'working');
      await c.awaitConverged([1, 2, 3], (kv) => kv.kv.get('still') === 'working');
    }));
});
