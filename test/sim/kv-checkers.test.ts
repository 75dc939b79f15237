import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Consistency, Version } from '../../src/kv/types.js';
import {
  type CheckOptions,
  checkFinalState,
  checkMonotonicReads,
  checkNoPhantoms,
  checkReadsSeeAckedWrites,
  checkReplicasEqual,
  type KvHistory,
  type ReadRecord,
  type WriteRecord,
} from './kv-checkers.js';

/**
 * The kv swarm's checkers on planted histories: each must flag the bad one and pass the good one,
 * so a swarm run with zero violations means something.
 */

const OPTIONS: CheckOptions = { rf: 3, slackMs: 100 };
let ids = 0;

const v = (wall: number, node = 1): Version => ({ wall, logical: 0, node });

function write(
  key: string,
  value: string | undefined,
  at: [number, number],
  version: number,
  extra: { level?: Consistency; outcome?: WriteRecord['outcome']; expiresAt?: number } = {},
): WriteRecord {
  return {
    id: ++ids,
    client: 1,
    key,
    value,
    ...(extra.expiresAt === undefined ? {} : { expiresAt: extra.expiresAt }),
    level: extra.level ?? 'QUORUM',
    node: 'n1',
    invokedAt: at[0],
    completedAt: at[1],
    outcome: extra.outcome ?? 'ok',
    version: v(version),
  };
}

function read(
  key: string,
  value: string | null,
  at: [number, number],
  level: Consistency = 'QUORUM',
): ReadRecord {
  return {
    id: ++ids,
    client: 2,
    key,
    level,
    node: 'n2',
    invokedAt: at[0],
    completedAt: at[1],
    outcome: 'ok',
    value,
  };
}

function history(...ops: (WriteRecord | ReadRecord)[]): KvHistory {
  return {
    writes: ops.filter((o): o is WriteRecord => 'version' in o),
    reads: ops.filter((o): o is ReadRecord => !('version' in o)),
  };
}

describe('kv swarm checkers', () => {
  it('(1) flag a strong read that misses an acknowledged write, and pass one that sees it or a later one', () => {
    const w1 = write('a', 'a=1', [0, 10], 5);
    const w2 = write('a', 'a=2', [20, 30], 100);
    const stale = history(w1, w2, read('a', 'a=1', [40, 50]));
    const found = checkReadsSeeAckedWrites(stale, OPTIONS);
    assert.equal(found.length, 1);
    assert.match(found[0]!, /lost acknowledged write on key a/);
    assert.deepEqual(checkReadsSeeAckedWrites(history(w1, w2, read('a', 'a=2', [40, 50])), OPTIONS), []);
    // A concurrent write with a higher version, even invoked later, may win.
    const w3 = write('a', 'a=3', [35, 60], 200);
    assert.deepEqual(checkReadsSeeAckedWrites(history(w1, w2, w3, read('a', 'a=3', [40, 50])), OPTIONS), []);
    // Absent with no delete or expiry to explain it.
    assert.equal(checkReadsSeeAckedWrites(history(w1, read('a', null, [40, 50])), OPTIONS).length, 1);
    // A read that began before the write completed, or at ONE, promises nothing.
    assert.deepEqual(checkReadsSeeAckedWrites(history(w1, w2, read('a', 'a=1', [25, 50])), OPTIONS), []);
    assert.deepEqual(
      checkReadsSeeAckedWrites(history(w1, w2, read('a', 'a=1', [40, 50], 'ONE')), OPTIONS),
      [],
    );
    // A write that failed (or whose outcome is unknown) is not owed.
    const failed = write('a', 'a=4', [20, 30], 300, { outcome: 'unknown' });
    assert.deepEqual(checkReadsSeeAckedWrites(history(w1, failed, read('a', 'a=1', [40, 50])), OPTIONS), []);
  });

  it('(1) accept an absent value explained by an expired TTL write, and flag one that has not expired', () => {
    const w = write('a', 'a=1', [0, 10], 5, { expiresAt: 30 });
    assert.deepEqual(checkReadsSeeAckedWrites(history(w, read('a', null, [40, 50])), OPTIONS), []);
    const long = write('a', 'a=1', [0, 10], 5, { expiresAt: 10_000 });
    assert.equal(checkReadsSeeAckedWrites(history(long, read('a', null, [40, 50])), OPTIONS).length, 1);
  });

  it('(1) a coordinator whose clock is pushed ahead may see a TTL expire that much early, and no earlier', () => {
    const w = write('a', 'a=1', [0, 10], 5, { expiresAt: 2_000 });
    const early = { ...read('a', null, [40, 50]), aheadMs: 2_000 };
    assert.deepEqual(checkReadsSeeAckedWrites(history(w, early), OPTIONS), []);
    const tooEarly = { ...read('a', null, [40, 50]), aheadMs: 1_000 };
    assert.equal(checkReadsSeeAckedWrites(history(w, tooEarly), OPTIONS).length, 1);
    assert.equal(checkReadsSeeAckedWrites(history(w, read('a', null, [40, 50])), OPTIONS).length, 1);
  });

  it('(1) skip pairs exposed to a lossy crash (sync false) and nothing else', () => {
    const h = history(
      write('a', 'a=1', [0, 10], 5),
      write('a', 'a=2', [20, 30], 100),
      read('a', 'a=1', [40, 50]),
    );
    const exposed: CheckOptions = { ...OPTIONS, exposed: (_k, from, to) => from <= 35 && 35 <= to };
    assert.deepEqual(checkReadsSeeAckedWrites(h, exposed), []);
    const elsewhere: CheckOptions = { ...OPTIONS, exposed: (_k, from, to) => from <= 500 && 500 <= to };
    assert.equal(checkReadsSeeAckedWrites(h, elsewhere).length, 1);
  });

  it('(2) flag replicas holding different cells, and pass equal ones', () => {
    const cells = new Map([
      [
        'n1',
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ],
      [
        'n2',
        new Map([
          ['a', 1],
          ['b', 3],
        ]),
      ],
    ]);
    const same = (x: number | undefined, y: number | undefined) => x === y;
    const found = checkReplicasEqual(cells, () => ['n1', 'n2'], same, String);
    assert.deepEqual(found, ['replicas differ on key b: n1 holds 2, n2 holds 3']);
    // A key missing on one replica differs too.
    const missing = new Map([
      ['n1', new Map([['a', 1]])],
      ['n2', new Map<string, number>()],
    ]);
    assert.equal(checkReplicasEqual(missing, () => ['n1', 'n2'], same, String).length, 1);
    // Nodes that are not replicas of a key are not compared.
    assert.deepEqual(
      checkReplicasEqual(cells, (k) => (k === 'b' ? ['n1'] : ['n1', 'n2']), same, String),
      [],
    );
  });

  it('(3) flag a value older than an acknowledged delete, during the history and after heal', () => {
    const w = write('a', 'a=1', [0, 10], 5);
    const del = write('a', undefined, [20, 30], 100);
    const found = checkReadsSeeAckedWrites(history(w, del, read('a', 'a=1', [40, 50])), OPTIONS);
    assert.equal(found.length, 1);
    assert.match(found[0]!, /resurrected delete on key a/);
    assert.deepEqual(checkReadsSeeAckedWrites(history(w, del, read('a', null, [40, 50])), OPTIONS), []);
    const final = { ...OPTIONS, now: 1_000, gcGraceMs: 10_000 };
    const back = checkFinalState(history(w, del), new Map([['a', { version: v(5), value: 'a=1' }]]), final);
    assert.equal(back.length, 1);
    assert.match(back[0]!, /resurrected delete on key a after heal/);
    const kept = checkFinalState(
      history(w, del),
      new Map([['a', { version: v(100), value: undefined }]]),
      final,
    );
    assert.deepEqual(kept, []);
    // Nothing at all is fine once the tombstone is past its grace (purged), not before.
    const none = new Map([['a', undefined]]);
    assert.equal(
      checkFinalState(history(w, del), none, final).length,
      2,
      'both the write and the delete are missing',
    );
    assert.deepEqual(checkFinalState(history(w, del), none, { ...final, now: 20_000 }), []);
  });

  it('(4) flag a strong read older than a strong read that completed before it began', () => {
    const w1 = write('a', 'a=1', [0, 10], 5, { outcome: 'unknown' });
    const w2 = write('a', 'a=2', [0, 100], 50, { outcome: 'unknown' });
    const r1 = read('a', 'a=2', [20, 30]);
    const found = checkMonotonicReads(history(w1, w2, r1, read('a', 'a=1', [40, 50])), OPTIONS);
    assert.equal(found.length, 1);
    assert.match(found[0]!, /non-monotonic reads on key a/);
    assert.deepEqual(checkMonotonicReads(history(w1, w2, r1, read('a', 'a=2', [40, 50])), OPTIONS), []);
    // Overlapping reads, and reads at ONE, promise nothing.
    assert.deepEqual(checkMonotonicReads(history(w1, w2, r1, read('a', 'a=1', [25, 50])), OPTIONS), []);
    assert.deepEqual(
      checkMonotonicReads(history(w1, w2, r1, read('a', 'a=1', [40, 50], 'ONE')), OPTIONS),
      [],
    );
  });

  it('(5) flag values never written, written to another key, or written after the read', () => {
    const w = write('a', 'a=1', [0, 10], 5);
    assert.equal(checkNoPhantoms(history(w, read('a', 'zzz', [20, 30]))).length, 1);
    assert.equal(checkNoPhantoms(history(w, read('b', 'a=1', [20, 30]))).length, 1);
    assert.equal(
      checkNoPhantoms(history(write('a', 'a=2', [40, 50], 9), read('a', 'a=2', [20, 30]))).length,
      1,
    );
    assert.deepEqual(checkNoPhantoms(history(w, read('a', 'a=1', [5, 30]))), []);
    // A stored cell no write made.
    const final = { ...OPTIONS, now: 1_000, gcGraceMs: 10_000 };
    const found = checkFinalState(history(w), new Map([['a', { version: v(7), value: 'a=1' }]]), final);
    assert.match(found[0]!, /phantom cell on key a/);
  });

  it('(1) after heal: flag an acknowledged write older than nothing or than an older cell', () => {
    const w1 = write('a', 'a=1', [0, 10], 5);
    const w2 = write('a', 'a=2', [20, 30], 100, { level: 'ALL' });
    const final = { ...OPTIONS, now: 1_000, gcGraceMs: 10_000 };
    const lost = checkFinalState(history(w1, w2), new Map([['a', { version: v(5), value: 'a=1' }]]), final);
    assert.equal(lost.length, 1);
    assert.match(lost[0]!, /lost acknowledged write on key a after heal/);
    assert.deepEqual(
      checkFinalState(history(w1, w2), new Map([['a', { version: v(100), value: 'a=2' }]]), final),
      [],
    );
    // A ONE write is not owed to QUORUM readers.
    const one = write('a', 'a=3', [20, 30], 200, { level: 'ONE' });
    assert.deepEqual(
      checkFinalState(history(w1, one), new Map([['a', { version: v(5), value: 'a=1' }]]), final),
      [],
    );
  });
});
