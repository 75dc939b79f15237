/**
 * The segment log on a simulated node's files under crashes: concurrent savers (some synced, some
 * not), snapshots and compaction, file latencies on the node's virtual clock, and a crash at a
 * seeded moment that loses unsynced bytes or keeps a torn prefix of them. After each restart the
 * log must hold a contiguous prefix of what was issued that contains every acknowledged synced save.
 *
 * Run: node --import tsx --test test/sim/raft-log-crash.test.ts
 * Replay one seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/raft-log-crash.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/core/index.js';
import { SegmentLogStore } from '../../src/raft/log/segment-log.js';
import type { Entry } from '../../src/raft/types.js';
import { parseSeed, Simulator } from '../../src/sim/index.js';

const seeds =
  process.env.CAIRN_SEED === undefined
    ? Array.from({ length: process.env.CAIRN_LONG === undefined ? 40 : 1000 }, (_, i) => i + 1)
    : [parseSeed(process.env.CAIRN_SEED)];
const limits = { segmentBytes: 2048 };

function entry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(`entry ${index} of term ${term}`) };
}

async function openStore(sim: Simulator): Promise<SegmentLogStore> {
  let store: SegmentLogStore | undefined;
  let failure: unknown;
  SegmentLogStore.open({ files: sim.filesOf('n'), limits }).then(
    (s) => (store = s),
    (err) => (failure = err),
  );
  await sim.runUntil(() => store !== undefined || failure !== undefined, { maxMs: 10_000 });
  if (failure !== undefined) throw failure;
  assert.ok(store !== undefined, 'the store opens within 10 s of virtual time');
  return store;
}

async function runSeed(seed: number | string): Promise<void> {
  const sim = new Simulator({ seed });
  const rng = Rng.fromSeed(seed).child('test');
  sim.addNode('n', () => ({}), { files: { readLatencyMs: 0.1, writeLatencyMs: 0.5, syncLatencyMs: 2 } });
  let term = 1;
  let ackedSynced = 0; // every index <= this was acknowledged durable
  let ackedSnapshot = 0;
  let issued = 0;
  // The term of the newest save issued at each index: what the log holds there once it is durable
  // (a snapshot's term is its index's entry's term, as in raft; a marker whose term differs from
  // the entry at its index means a snapshot from a leader, and recovery drops the log behind it).
  const termAt = new Map<number, number>();
  for (let round = 0; round < 4; round++) {
    const store = await openStore(sim);
    const state = await store.load();
    const first = state.snapshot === undefined ? 1 : state.snapshot.meta.index + 1;
    const last = first + state.entries.length - 1;
    const where = `seed=${seed} round=${round}`;
    assert.ok(
      (state.snapshot?.meta.index ?? 0) >= ackedSnapshot,
      `${where}: the acknowledged snapshot survives`,
    );
    assert.ok(last >= ackedSynced, `${where}: log ends at ${last}, before acknowledged ${ackedSynced}`);
    assert.ok(last <= issued, `${where}: log ends at ${last}, past the ${issued} issued`);
    state.entries.forEach((e, k) => {
      assert.equal(e.index, first + k, `${where}: contiguous`);
      assert.deepEqual(e.data, entry(e.index, e.term).data, `${where}: entry ${e.index} intact`);
    });
    if (state.entries.length > 0) {
      assert.equal(state.hardState.commit, last - 1, `${where}: the hard state came with the last save`);
    }
    // Start the next incarnation's work. A new term overwrites a random unacknowledged suffix.
    term++;
    let next = Math.max(ackedSynced, state.snapshot?.meta.index ?? 0) + 1 + rng.int(last - ackedSynced + 1);
    next = Math.min(next, last + 1);
    issued = Math.max(last, next - 1);
    let crashed = false;
    const saver = async () => {
      while (!crashed) {
        const index = next++;
        issued = Math.max(issued, index);
        const sync = rng.chance(0.7);
        termAt.set(index, term);
        await store.save({ term, vote: 1, commit: index - 1 }, [entry(index, term)], sync);
        if (sync) ackedSynced = Math.max(ackedSynced, index);
      }
    };
    const snapshotter = async () => {
      while (!crashed) {
        await new Promise<void>((resolve) => sim.clockFor('n').setTimer(7, resolve));
        const at = ackedSynced;
        if (at <= ackedSnapshot) continue;
        await store.saveSnapshot({
          meta: { index: at, term: termAt.get(at)!, confState: { voters: [1], learners: [] } },
          data: new Uint8Array([round]),
        });
        ackedSnapshot = at;
        await store.compact(at);
      }
    };
    const savers = 1 + rng.int(8);
    for (let k = 0; k < savers; k++) void saver().catch(() => undefined);
    void snapshotter().catch(() => undefined);
    // Acknowledgements only count for saves whose indexes are all issued before the crash.
    await sim.runFor(5 + rng.int(60));
    crashed = true;
    sim.crash('n');
    // A save acknowledged synced implies every earlier save is durable too (call order).
    sim.restart('n');
  }
}

describe('segment log under simulated crashes', () => {
  it(`keeps every acknowledged save over ${seeds.length} seeds`, async () => {
    for (const seed of seeds) {
      try {
        await runSeed(seed);
      } catch (err) {
        process.stderr.write(
          `failing seed=${seed}; replay: CAIRN_SEED=${seed} node --import tsx --test test/sim/raft-log-crash.test.ts\n`,
        );
        throw err;
      }
    }
  });
});
