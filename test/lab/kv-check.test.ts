import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkKv } from '../../src/lab/workloads/kv/check.js';
import {
  FINAL_CLIENT_BASE,
  type KvHistory,
  type KvLevel,
  type KvOp,
} from '../../src/lab/workloads/kv/history.js';

/**
 * The kv checker fed planted histories: each broken one (a lost write, a phantom, replicas that
 * disagree, a stale read, a read going back in time) must be reported with its kind, and each
 * valid twin (the same shape with the one fact that explains it) must pass. Times are ms; the
 * clock slack is 1,000 ms, so writes 2 s apart are ordered and writes 0.5 s apart are not.
 */

class Builder {
  private readonly ops: KvOp[] = [];
  skews: KvHistory['skews'] = [];
  repaired = true;

  private add(op: Omit<KvOp, 'id' | 'level'> & { level?: KvLevel }): KvOp {
    const full = { level: 'QUORUM' as KvLevel, ...op, id: this.ops.length };
    this.ops.push(full);
    return full;
  }

  set(
    client: number,
    key: string,
    value: string,
    call: number,
    ret: number | null,
    outcome: KvOp['outcome'] = 'ok',
  ) {
    return this.add({ client, node: client % 3, key, type: 'set', value, call, ret, outcome });
  }

  del(client: number, key: string, call: number, ret: number | null, outcome: KvOp['outcome'] = 'ok') {
    return this.add({ client, node: client % 3, key, type: 'del', call, ret, outcome, deleted: 1 });
  }

  get(client: number, key: string, read: string | null, call: number, ret: number) {
    return this.add({ client, node: client % 3, key, type: 'get', call, ret, outcome: 'ok', read });
  }

  /** Final reads of `key` through every node at every level, answering `read` (or per node). */
  final(key: string, read: string | null | ((node: number, level: KvLevel) => string | null), at = 100_000) {
    for (const level of ['ONE', 'ALL', 'QUORUM'] as const) {
      for (let node = 0; node < 3; node++) {
        const value = typeof read === 'function' ? read(node, level) : read;
        this.add({
          client: FINAL_CLIENT_BASE + node,
          node,
          key,
          type: 'get',
          level,
          call: at,
          ret: at + 10,
          outcome: 'ok',
          read: value,
        });
      }
    }
  }

  history(): KvHistory {
    return {
      nodes: 3,
      ops: this.ops,
      finalFailures: [],
      repaired: this.repaired,
      repair: 'test',
      slackMs: 1_000,
      errors: {},
      faultCounts: {},
      timeline: [{ at: 500, text: 'start #0 kill node-1' }],
      skews: this.skews,
    };
  }
}

function kinds(h: KvHistory): string[] {
  return checkKv(h).violations.map((v) => v.kind);
}

describe('kv checker', () => {
  it('reports an acknowledged write the final reads miss, and passes its twin with a later write', () => {
    const broken = new Builder();
    broken.set(0, 'k', 'c0-0', 0, 100);
    broken.set(1, 'k', 'c1-0', 5_000, 5_100); // acknowledged, 4.9 s after c0-0: certainly newer
    broken.final('k', 'c0-0');
    const result = checkKv(broken.history());
    assert.deepEqual(
      result.violations.map((v) => v.kind),
      ['lost-write'],
    );
    assert.match(result.violations[0]!.message, /c1-0/);
    assert.ok(
      result.violations[0]!.around.some((e) => e.text.includes('kill node-1')),
      'faults listed',
    );

    const twin = new Builder();
    twin.set(0, 'k', 'c0-0', 0, 100);
    twin.set(1, 'k', 'c1-0', 5_000, 5_100);
    twin.set(2, 'k', 'c2-0', 9_000, null, 'unknown'); // unknown outcome, later: it may have replaced c1-0
    twin.final('k', 'c2-0');
    assert.deepEqual(kinds(twin.history()), []);
  });

  it('accepts either order of writes close in time (versions follow clocks within the slack)', () => {
    const b = new Builder();
    b.set(0, 'k', 'c0-0', 0, 100);
    b.set(1, 'k', 'c1-0', 600, 700); // invoked 500 ms after c0-0 was acknowledged: not ordered
    b.final('k', 'c0-0');
    assert.deepEqual(kinds(b.history()), []);
  });

  it('a lost delete: the final value is older than an acknowledged delete; its twin has a newer SET', () => {
    const broken = new Builder();
    broken.set(0, 'k', 'c0-0', 0, 100);
    broken.del(1, 'k', 3_000, 3_100);
    broken.final('k', 'c0-0');
    assert.deepEqual(kinds(broken.history()), ['lost-write']);

    const twin = new Builder();
    twin.set(0, 'k', 'c0-0', 0, 100);
    twin.del(1, 'k', 3_000, 3_100);
    twin.set(2, 'k', 'c2-0', 6_000, 6_100);
    twin.final('k', 'c2-0');
    assert.deepEqual(kinds(twin.history()), []);
  });

  it('an absent key needs a delete that may be newer than the acknowledged write', () => {
    const broken = new Builder();
    broken.set(0, 'k', 'c0-0', 0, 100);
    broken.final('k', null);
    assert.deepEqual(kinds(broken.history()), ['lost-write']);

    const twin = new Builder();
    twin.set(0, 'k', 'c0-0', 0, 100);
    twin.del(1, 'k', 50, null, 'unknown');
    twin.final('k', null);
    assert.deepEqual(kinds(twin.history()), []);
  });

  it('reports a value nobody wrote, one whose SET certainly failed, and one of another key', () => {
    const b = new Builder();
    b.set(0, 'k', 'c0-0', 0, 100);
    b.set(1, 'k', 'c1-0', 200, 300, 'fail');
    b.set(2, 'j', 'c2-0', 200, 300);
    b.get(0, 'k', 'c9-9', 1_000, 1_100);
    b.get(1, 'k', 'c1-0', 1_200, 1_300);
    b.get(2, 'k', 'c2-0', 1_400, 1_500);
    b.final('k', 'c0-0');
    b.final('j', 'c2-0');
    const result = checkKv(b.history());
    assert.deepEqual(
      result.violations.map((v) => v.kind),
      ['phantom-value', 'phantom-value', 'phantom-value'],
    );
    assert.match(result.violations[1]!.message, /certainly failed/);
    assert.match(result.violations[2]!.message, /written to j/);

    const twin = new Builder();
    twin.set(0, 'k', 'c0-0', 0, 100);
    twin.set(1, 'k', 'c1-0', 200, 300, 'unknown');
    twin.get(1, 'k', 'c1-0', 1_200, 1_300); // an unknown outcome may have applied
    twin.final('k', 'c1-0');
    assert.deepEqual(kinds(twin.history()), []);
  });

  it('reports nodes answering differently after the heal; ONE is judged only after repair', () => {
    const broken = new Builder();
    broken.set(0, 'k', 'c0-0', 0, 100);
    broken.set(1, 'k', 'c1-0', 150, 250);
    broken.final('k', (node, level) => (level === 'ALL' && node === 2 ? 'c0-0' : 'c1-0'));
    assert.deepEqual(kinds(broken.history()), ['replicas-disagree']);

    const one = new Builder();
    one.set(0, 'k', 'c0-0', 0, 100);
    one.set(1, 'k', 'c1-0', 150, 250);
    one.final('k', (node, level) => (level === 'ONE' && node === 2 ? 'c0-0' : 'c1-0'));
    assert.deepEqual(kinds(one.history()), ['replicas-disagree'], 'repaired: ONE must agree');
    one.repaired = false;
    const lagging = checkKv(one.history());
    assert.deepEqual(lagging.violations, [], 'not repaired: ONE may lag');
    assert.equal(lagging.figures.keysOneReadsDiffer, 1, 'but it is counted');
  });

  it('reports a QUORUM read that misses an acknowledged write during the run', () => {
    const broken = new Builder();
    broken.set(0, 'k', 'c0-0', 0, 100);
    broken.set(1, 'k', 'c1-0', 3_000, 3_100);
    broken.get(2, 'k', 'c0-0', 3_200, 3_300);
    broken.final('k', 'c1-0');
    assert.deepEqual(kinds(broken.history()), ['stale-read']);

    const twin = new Builder();
    twin.set(0, 'k', 'c0-0', 0, 100);
    twin.set(1, 'k', 'c1-0', 3_000, 3_100);
    twin.get(2, 'k', 'c0-0', 3_000, 3_300); // began before c1-0 was acknowledged
    twin.final('k', 'c1-0');
    assert.deepEqual(kinds(twin.history()), []);
  });

  it('reports a QUORUM read that goes back to a certainly older write', () => {
    const broken = new Builder();
    broken.set(0, 'k', 'c0-0', 0, 100);
    broken.set(1, 'k', 'c1-0', 3_000, null, 'unknown');
    broken.get(2, 'k', 'c1-0', 4_000, 4_100);
    broken.get(0, 'k', 'c0-0', 4_200, 4_300);
    broken.final('k', 'c1-0');
    const result = checkKv(broken.history());
    assert.deepEqual(
      result.violations.map((v) => v.kind),
      ['non-monotonic-read'],
    );
    // The two run reads, and the second against each of the six strong final reads.
    assert.deepEqual(result.figures.monotonic, { pairs: 7, ordered: 7 });

    const twin = new Builder();
    twin.set(0, 'k', 'c0-0', 0, 100);
    twin.set(1, 'k', 'c1-0', 50, null, 'unknown'); // concurrent with c0-0: either may be newer
    twin.get(2, 'k', 'c1-0', 4_000, 4_100);
    twin.get(0, 'k', 'c0-0', 4_200, 4_300);
    twin.final('k', 'c0-0');
    assert.deepEqual(kinds(twin.history()), []);
  });

  it('a read that found the key deleted is not followed by a value older than every delete', () => {
    const broken = new Builder();
    broken.set(0, 'k', 'c0-0', 0, 100);
    broken.del(1, 'k', 3_000, null, 'unknown');
    broken.get(2, 'k', null, 4_000, 4_100);
    broken.get(0, 'k', 'c0-0', 4_200, 4_300);
    broken.final('k', null);
    assert.deepEqual(kinds(broken.history()), ['non-monotonic-read']);
  });

  it('does not order writes whose coordinator ran with a shifted clock', () => {
    const b = new Builder();
    b.set(0, 'k', 'c0-0', 0, 100);
    b.set(1, 'k', 'c1-0', 5_000, 5_100); // node 1, skewed at the time
    b.final('k', 'c0-0');
    assert.deepEqual(kinds(b.history()), ['lost-write']);
    b.skews = [{ node: 1, from: 4_000, to: 6_000 }];
    assert.deepEqual(kinds(b.history()), []);
  });

  it('lists at most maxPerKind violations of a kind and counts them all', () => {
    const b = new Builder();
    for (let i = 0; i < 5; i++) {
      b.set(0, `k${i}`, `c0-${i}`, 0, 100);
      b.final(`k${i}`, null);
    }
    const result = checkKv(b.history(), { maxPerKind: 2 });
    assert.equal(result.violations.length, 2);
    assert.deepEqual(result.figures.violations, { 'lost-write': 5 });
  });
});
