import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/bytes.js';
import { isCairnError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { MemoryRaftLog } from '../memory-log.js';
import { makeMessage } from './message.js';
import { RaftCore } from './raft-core.js';
import { drainReady, makeTestCore } from './test-network.js';

describe('Ready and advance', () => {
  it('a single voter elects itself and commits its proposals through Ready batches', () => {
    const { core, log } = makeTestCore(1, { voters: [1], learners: [] });
    core.campaign();
    const rd = core.ready();
    assert.equal(rd.softState?.role, 'leader');
    assert.deepEqual(rd.hardState, { term: 1, vote: 1, commit: 1 });
    assert.equal(rd.mustSync, true);
    assert.equal(rd.entries.length, 1);
    assert.equal(core.hasReady(), false, 'no new Ready before advance');
    assert.throws(
      () => core.ready(),
      (e) => isCairnError(e, 'ASSERTION_FAILED'),
    );
    assert.deepEqual(
      rd.committedEntries.map((e) => e.index),
      [1],
      'committed in the same Ready: applied after the entry is persisted',
    );
    log.append(rd.entries);
    log.setHardState(rd.hardState!);
    core.advance(rd);
    core.propose(utf8('a'));
    const { committed } = drainReady(core, log);
    assert.deepEqual(
      committed.map((e) => e.index),
      [2],
    );
    assert.equal(core.hasReady(), false);
    assert.equal(core.status().applied, 2);
  });

  it('a commit-only change does not need a sync; a vote does', () => {
    const { core, log } = makeTestCore(
      1,
      { voters: [1, 2, 3], learners: [] },
      { config: { checkQuorum: false } },
    );
    core.step(
      makeMessage({
        type: 'app',
        from: 2,
        to: 1,
        term: 1,
        entries: [{ index: 1, term: 1, type: 'normal', data: utf8('x') }],
      }),
    );
    drainReady(core, log);
    core.step(makeMessage({ type: 'heartbeat', from: 2, to: 1, term: 1, commit: 1 }));
    const rd = core.ready();
    assert.deepEqual([rd.hardState?.commit, rd.mustSync, rd.committedEntries.length], [1, false, 1]);
    core.advance(rd);
    core.step(makeMessage({ type: 'vote', from: 3, to: 1, term: 2, index: 1, logTerm: 1 }));
    const rd2 = core.ready();
    assert.deepEqual([rd2.hardState?.vote, rd2.mustSync], [3, true]);
    core.advance(rd2);
  });

  it('restarts from stored state: term, vote and commit are kept; applied entries are not returned again', () => {
    const log = new MemoryRaftLog();
    log.setConfState({ voters: [1, 2, 3], learners: [] });
    log.append([
      { index: 1, term: 1, type: 'normal', data: utf8('a') },
      { index: 2, term: 2, type: 'normal', data: utf8('b') },
    ]);
    log.setHardState({ term: 2, vote: 3, commit: 1 });
    const core = new RaftCore({
      id: 1,
      electionTicks: 10,
      heartbeatTicks: 1,
      rng: Rng.fromSeed(1),
      log,
      applied: 2,
    });
    const s = core.status();
    assert.deepEqual([s.term, s.vote, s.commit, s.applied], [2, 3, 2, 2]);
    assert.equal(core.hasReady(), false, 'nothing to apply again');
  });

  it('rejects a bad config naming the field', () => {
    const log = new MemoryRaftLog();
    assert.throws(
      () => new RaftCore({ id: 1, electionTicks: 1, heartbeatTicks: 1, rng: Rng.fromSeed(1), log }),
      (e) => isCairnError(e, 'INVALID_CONFIG') && /electionTicks/.test((e as Error).message),
    );
    assert.throws(
      () => new RaftCore({ id: 0, electionTicks: 10, heartbeatTicks: 1, rng: Rng.fromSeed(1), log }),
      (e) => isCairnError(e, 'INVALID_CONFIG'),
    );
  });
});
