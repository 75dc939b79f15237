import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaftError } from './errors.js';
import { MemoryRaftLog } from './memory-log.js';
import { type Entry, LogGapError } from './types.js';

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: new Uint8Array(10),
});
const CS = { voters: [1], learners: [] };

describe('MemoryRaftLog', () => {
  it('appends, replaces a conflicting suffix and answers terms and ranges', () => {
    const log = new MemoryRaftLog();
    log.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    log.append([ent(2, 2)]);
    assert.deepEqual([log.firstIndex(), log.lastIndex(), log.term(2)], [1, 2, 2]);
    assert.throws(
      () => log.term(3),
      (e) => e instanceof LogGapError && e.kind === 'unavailable',
    );
    assert.throws(() => log.append([ent(5, 2)]), /missing log entries/);
    log.append([ent(3, 2), ent(4, 2)]);
    // 34 bytes per entry: a 70-byte budget holds two, and the first always comes back.
    assert.equal(log.entries(1, 5, 70).length, 2);
    assert.equal(log.entries(1, 5, 1).length, 1);
  });

  it('compacts, snapshots and reports compacted indexes', () => {
    const log = new MemoryRaftLog();
    log.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
    const snap = log.createSnapshot(3, CS, new Uint8Array([9]));
    assert.deepEqual(snap.meta, { index: 3, term: 2, confState: CS });
    log.compact(3);
    log.compact(2); // repeated, below the base: a no-op
    assert.deepEqual([log.firstIndex(), log.lastIndex(), log.term(3)], [4, 4, 2]);
    assert.throws(
      () => log.term(2),
      (e) => e instanceof LogGapError && e.kind === 'compacted',
    );
    assert.throws(
      () => log.entries(3, 5, 100),
      (e) => e instanceof LogGapError && e.kind === 'compacted',
    );
    assert.throws(
      () => log.createSnapshot(3, CS, new Uint8Array()),
      (e) => isRaftError(e, 'COMPACTED'),
    );
    // Appending entries already below the snapshot skips them.
    log.append([ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 2)]);
    assert.equal(log.lastIndex(), 5);
  });

  it('applySnapshot replaces everything and sets the conf state', () => {
    const log = new MemoryRaftLog();
    log.append([ent(1, 1), ent(2, 1)]);
    const cs = { voters: [1, 2], learners: [3] };
    log.applySnapshot({ meta: { index: 10, term: 3, confState: cs }, data: new Uint8Array() });
    assert.deepEqual([log.firstIndex(), log.lastIndex(), log.term(10)], [11, 10, 3]);
    assert.deepEqual(log.initialState().confState, cs);
    assert.throws(
      () => log.applySnapshot({ meta: { index: 5, term: 3, confState: cs }, data: new Uint8Array() }),
      (e) => isRaftError(e, 'COMPACTED'),
    );
  });
});
