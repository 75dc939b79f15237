import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bruteForceLinearizable } from './brute-force.test-helper.js';
import { checkHistory } from './check.js';
import type { Operation } from './history.js';
import { KvHistoryBuilder } from './kv-history.test-helper.js';
import { type KvInput, type KvOutput, kvModel } from './kv-model.js';
import { type Model, UNKNOWN } from './model.js';

type KvOps = Operation<KvInput, KvOutput>[];

/** Checks, and asserts the brute-force reference agrees on small histories. */
function verdict(ops: KvOps): 'ok' | 'illegal' | 'unknown' {
  const r = checkHistory(kvModel, ops);
  if (ops.length <= 9) {
    const reference = bruteForceLinearizable(kvModel, ops) ? 'ok' : 'illegal';
    assert.equal(r.kind, reference, `checker says ${r.kind}, the brute-force reference ${reference}`);
  }
  return r.kind;
}

const h = () => new KvHistoryBuilder();

describe('checkHistory on known-good KV histories', () => {
  it('accepts a sequential history of every operation', () => {
    const ops = h()
      .get(1, 'a', null, 1, 2)
      .put(1, 'a', '1', 3, 4)
      .get(1, 'a', '1', 5, 6)
      .casValue(1, 'a', '1', '2', true, 7, 8)
      .casValue(1, 'a', '1', '3', false, 9, 10)
      .get(1, 'a', '2', 11, 12)
      .del(1, 'a', 1, 13, 14)
      .del(1, 'a', 0, 15, 16)
      .get(1, 'a', null, 17, 18)
      .build();
    assert.equal(verdict(ops), 'ok');
  });

  it('accepts overlapping operations whose only legal order differs from call order', () => {
    // The put is called first but the read of its absence overlaps it: the read goes first.
    const ops = h()
      .put(1, 'a', '1', 1, 10)
      .get(2, 'a', null, 2, 3)
      .get(3, 'a', '1', 4, 5)
      .put(2, 'a', '2', 6, 12)
      .get(3, 'a', '1', 7, 8)
      .get(3, 'a', '2', 11, 13)
      .build();
    assert.equal(verdict(ops), 'ok');
  });

  it('accepts concurrent CAS where exactly one succeeds', () => {
    const ops = h()
      .put(1, 'a', '0', 1, 2)
      .casValue(1, 'a', '0', '1', false, 3, 9)
      .casValue(2, 'a', '0', '2', true, 4, 8)
      .get(3, 'a', '2', 10, 11)
      .build();
    assert.equal(verdict(ops), 'ok');
  });

  it('accepts an unknown-outcome write that took effect, or did not, or took effect late', () => {
    const tookEffect = h().info(1, { type: 'put', key: 'a', value: '1' }, 1).get(2, 'a', '1', 5, 6).build();
    assert.equal(verdict(tookEffect), 'ok');
    const didNot = h().info(1, { type: 'put', key: 'a', value: '1' }, 1).get(2, 'a', null, 5, 6).build();
    assert.equal(verdict(didNot), 'ok');
    // Seen absent long after the call, then present: it took effect late, which is allowed.
    const late = h()
      .info(1, { type: 'put', key: 'a', value: '1' }, 1)
      .get(2, 'a', null, 50, 51)
      .get(2, 'a', '1', 60, 61)
      .build();
    assert.equal(verdict(late), 'ok');
  });

  it('accepts an unknown-outcome CAS on a revision nobody observed', () => {
    const ops = h()
      .put(1, 'a', '0', 1, 2)
      .info(2, { type: 'cas', key: 'a', compare: { modRevision: 7 }, value: '1' }, 3)
      .get(1, 'a', '1', 5, 6)
      .build();
    assert.equal(verdict(ops), 'ok');
  });

  it('accepts revisions that grow with the linearization and a get that reveals an unobserved one', () => {
    const ops = h()
      .put(1, 'a', '1', 1, 2, 3)
      .put(2, 'a', '2', 3, 4)
      .get(1, 'a', '2', 5, 6, 9)
      .casRevision(1, 'a', 9, '3', true, 7, 8)
      .get(1, 'a', '3', 9, 10)
      .build();
    assert.equal(verdict(ops), 'ok');
  });

  it('checks keys independently: interleaved keys each linearizable', () => {
    const ops = h()
      .put(1, 'a', '1', 1, 5)
      .put(2, 'b', '1', 2, 3)
      .get(3, 'b', '1', 4, 6)
      .get(2, 'a', null, 4, 7)
      .get(1, 'a', '1', 8, 9)
      .build();
    const r = checkHistory(kvModel, ops);
    assert.equal(r.kind, 'ok');
    assert.equal(r.partitions, 2);
  });

  it('accepts the empty history', () => {
    assert.equal(checkHistory(kvModel, []).kind, 'ok');
  });
});

describe('checkHistory on known-bad KV histories', () => {
  it('rejects a stale read', () => {
    const ops = h().put(1, 'a', '1', 1, 2).put(1, 'a', '2', 3, 4).get(2, 'a', '1', 5, 6).build();
    assert.equal(verdict(ops), 'illegal');
  });

  it('rejects a lost write (an acknowledged put not seen by a later read)', () => {
    const ops = h().put(1, 'a', '1', 1, 2).get(2, 'a', null, 3, 4).build();
    assert.equal(verdict(ops), 'illegal');
  });

  it('rejects a read of a value never written', () => {
    const ops = h().put(1, 'a', '1', 1, 5).get(2, 'a', '9', 2, 3).build();
    assert.equal(verdict(ops), 'illegal');
  });

  it('rejects two CAS on the same expected value both succeeding', () => {
    const ops = h()
      .put(1, 'a', '0', 1, 2)
      .casValue(1, 'a', '0', '1', true, 3, 9)
      .casValue(2, 'a', '0', '2', true, 4, 8)
      .build();
    assert.equal(verdict(ops), 'illegal');
    const byRevision = h()
      .put(1, 'a', '0', 1, 2, 5)
      .casRevision(1, 'a', 5, '1', true, 3, 9)
      .casRevision(2, 'a', 5, '2', true, 4, 8)
      .build();
    assert.equal(verdict(byRevision), 'illegal');
  });

  it('rejects a non-monotonic read: new value, then the old one again', () => {
    const ops = h().put(1, 'a', '1', 1, 10).get(2, 'a', '1', 2, 3).get(3, 'a', null, 4, 5).build();
    assert.equal(verdict(ops), 'illegal');
  });

  it('rejects write revisions that go backwards and a wrong modRevision read', () => {
    const backwards = h().put(1, 'a', '1', 1, 2, 5).put(1, 'a', '2', 3, 4, 4).build();
    assert.equal(verdict(backwards), 'illegal');
    const wrongRead = h().put(1, 'a', '1', 1, 2, 5).get(2, 'a', '1', 3, 4, 6).build();
    assert.equal(verdict(wrongRead), 'illegal');
  });

  it('rejects a delete count that contradicts the state, even after an unknown write', () => {
    const ops = h()
      .put(1, 'a', '1', 1, 2)
      .info(2, { type: 'delete', key: 'a' }, 3)
      .del(1, 'a', 1, 5, 6)
      .get(1, 'a', '1', 7, 8)
      .build();
    assert.equal(verdict(ops), 'illegal');
  });

  it('reports the smallest failing key with its legal prefix and the blocked operation', () => {
    const b = h();
    // Key "big": 6 operations, illegal at the end. Key "small": 3 operations, a stale read.
    b.put(1, 'big', '1', 1, 2).put(1, 'big', '2', 3, 4).put(1, 'big', '3', 5, 6).get(1, 'big', '3', 7, 8);
    b.put(1, 'big', '4', 9, 10).get(1, 'big', '1', 11, 12);
    b.put(2, 'small', 'x', 1, 2).put(2, 'small', 'y', 3, 4).get(3, 'small', 'x', 5, 6);
    const r = checkHistory(kvModel, b.build());
    assert.equal(r.kind, 'illegal');
    if (r.kind !== 'illegal') return;
    assert.equal(r.violation.partition, 'small');
    assert.deepEqual(
      r.violation.linearized.map((op) => op.id),
      [6, 7],
    );
    assert.equal(r.violation.blocked?.id, 8);
    assert.deepEqual(r.violation.state, { value: 'y', modRevision: -1, floor: 0 });
    assert.match(r.report, /partition "small" \(3 operations; 2 linearized/);
    assert.match(r.report, /#8 {2}client 3 {2}\[5, 6\] {2}get\(small\) -> "x" {3}<- illegal from this state/);
    assert.match(r.report, /state after it: "y" @ rev \?/);
    assert.match(r.report, /#8 returned before it could be linearized/);
  });
});

describe('checkHistory budget', () => {
  it('answers unknown, never ok, when the time budget runs out', () => {
    // Many concurrent reads of a value written by an operation that never returned: a wide search.
    const b = h().put(1, 'a', '1', 0, 1000);
    for (let i = 0; i < 12; i++) b.get(2 + i, 'a', i % 2 === 0 ? null : '1', 1, 999);
    b.get(99, 'a', '9', 1001, 1002);
    let t = 0;
    const r = checkHistory(kvModel, b.build(), {
      now: () => (t += 10),
      limits: { checkBudgetMs: 50, stepsPerClockRead: 1 },
    });
    assert.equal(r.kind, 'unknown');
    if (r.kind === 'unknown') assert.match(r.reason, /time budget/);
  });

  it('answers unknown when the memo table is full', () => {
    const b = h();
    for (let i = 0; i < 6; i++) b.put(i, 'a', String(i), 1, 10);
    b.get(9, 'a', 'never', 11, 12);
    const r = checkHistory(kvModel, b.build(), { limits: { maxMemoEntries: 5 } });
    assert.equal(r.kind, 'unknown');
  });
});

describe('checkHistory with a generic model', () => {
  // A counter whose increments return the new value: checks the Model contract beyond KV.
  type In = 'inc' | 'read';
  const counter: Model<number, In, number> = {
    init: () => 0,
    step: (s, input, out) => {
      const after = input === 'inc' ? s + 1 : s;
      return [out === UNKNOWN || out === after, after];
    },
    equal: (a, b) => a === b,
    hash: (s) => String(s),
  };
  const op = (id: number, input: In, call: number, ret: number, output: number): Operation<In, number> => ({
    id,
    clientId: id,
    input,
    call,
    ret,
    output,
  });

  it('finds the one order of concurrent increments their outputs allow', () => {
    const ops = [
      op(0, 'inc', 1, 10, 3),
      op(1, 'inc', 2, 9, 1),
      op(2, 'inc', 3, 8, 2),
      op(3, 'read', 11, 12, 3),
    ];
    assert.equal(checkHistory(counter, ops).kind, 'ok');
    assert.equal(bruteForceLinearizable(counter, ops), true);
  });

  it('rejects an increment whose output no order explains', () => {
    const ops = [op(0, 'inc', 1, 2, 1), op(1, 'inc', 3, 4, 1)];
    assert.equal(checkHistory(counter, ops).kind, 'illegal');
    assert.equal(bruteForceLinearizable(counter, ops), false);
  });
});
