import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/rng.js';
import { isRaftError } from '../errors.js';
import { TestNetwork } from './test-network.js';

/**
 * Random schedules over 3-5 cores: ticks, message drops, duplicates and reordering, proposals,
 * restarts and compactions, in any interleaving. The network checks election safety (one leader
 * per term) and state machine safety (one entry per applied index) on every Ready; this test
 * adds leader completeness (a leader holds every entry committed before its term). Replay a
 * failure with the printed command.
 */

const FILE = 'src/raft/core/safety.property.test.ts';
const RUNS = Number(process.env.RAFT_PROP_RUNS ?? 40);
const STEPS = 600;

function leaderCompleteness(net: TestNetwork): void {
  for (const n of net.nodes.values()) {
    const s = n.core.status();
    if (s.role !== 'leader') continue;
    for (const [index, e] of net.committedEntries()) {
      if (e.term >= s.term || index < n.log.firstIndex()) continue;
      if (index > n.core.lastIndex())
        assert.fail(`leader ${n.id} (term ${s.term}) lacks committed entry ${index}`);
      if (index <= n.log.lastIndex()) {
        assert.equal(
          n.log.term(index),
          e.term,
          `leader ${n.id} holds another entry at committed index ${index}`,
        );
      }
    }
  }
}

function runSchedule(seed: number, size: number, preVote: boolean): void {
  const rng = Rng.fromSeed(seed);
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const net = TestNetwork.create(ids, { seed, config: { preVote, checkQuorum: preVote } });
  let proposals = 0;
  for (let step = 0; step < STEPS; step++) {
    const id = rng.pick(ids);
    const roll = rng.int(100);
    if (roll < 25) net.tick(id);
    else if (roll < 55) {
      while (net.processReady(id) !== undefined) {}
    } else if (roll < 80 && net.inFlight.length > 0) {
      net.deliverAt(rng.int(net.inFlight.length)); // reordering: any message may go next
    } else if (roll < 85 && net.inFlight.length > 0) {
      net.deliverMessage(rng.pick(net.inFlight)); // duplicate: deliver and keep it in flight
    } else if (roll < 92 && net.inFlight.length > 0) {
      net.dropAt(rng.int(net.inFlight.length)); // drop
    } else if (roll < 97) {
      try {
        net.propose(id, new TextEncoder().encode(`p${proposals++}`));
      } catch (err) {
        if (!isRaftError(err, 'PROPOSAL_DROPPED')) throw err;
      }
    } else if (roll < 99) {
      net.restart(id);
    } else {
      net.compact(id);
    }
    leaderCompleteness(net);
  }
  // Liveness after heal: deliver everything, keep ticking; a leader must emerge and commit.
  for (let i = 0; i < 200 && net.leader() === undefined; i++) {
    net.tickAll();
    net.stabilize();
  }
  const leader = net.leader();
  assert.ok(leader !== undefined, 'no leader after the faults stopped');
  net.propose(leader, new TextEncoder().encode('final'));
  for (let i = 0; i < 5; i++) {
    net.tickAll();
    net.stabilize();
  }
  const want = net.appliedText(leader);
  for (const n of ids) assert.deepEqual(net.appliedText(n), want, `node ${n} diverged from leader ${leader}`);
}

describe('raft safety under random message loss, duplication and reordering', () => {
  it('never two leaders in a term, never two entries at one applied index, leaders complete', () => {
    const seed = Number(process.env.RAFT_PROP_SEED ?? Rng.randomSeed() % 2 ** 31);
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          fc.integer({ min: 3, max: 5 }),
          fc.boolean(),
          (s, n, pv) => runSchedule(s, n, pv),
        ),
        { seed, numRuns: RUNS },
      );
    } catch (err) {
      console.error(`seed=${seed} replay: RAFT_PROP_SEED=${seed} node --import tsx --test ${FILE}`);
      throw err;
    }
  });
});
