import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Entry } from '../../src/raft/types.js';
import { LogView, StoreSafety } from './store-safety.js';
import { WatchChecker } from './store-watch.js';

/** The store swarm's checkers flag what they exist for (so a clean sweep means something). */

function entry(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(data) };
}

describe('store swarm safety checkers', () => {
  it('two leaders in one term is a violation; one leader reported twice is not', () => {
    const s = new StoreSafety();
    s.leader(3, 1, 'n1');
    s.leader(3, 1, 'n2');
    assert.deepEqual(s.violations, []);
    s.leader(3, 2, 'n2');
    assert.match(s.violations[0] ?? '', /two leaders in term 3/);
  });

  it('a committed entry rewritten with another term, or applied differently, is a violation', () => {
    const s = new StoreSafety();
    const a = new LogView('n1', s);
    const b = new LogView('n2', s);
    a.saving({ term: 1, vote: 1, commit: 2 }, [entry(1, 1), entry(2, 1)]);
    // n2 holds another entry at index 2 but has not committed it: legal (an old leader's tail).
    b.saving({ term: 2, vote: 2, commit: 1 }, [entry(1, 1), entry(2, 2)]);
    assert.deepEqual(s.violations, []);
    b.saving({ term: 2, vote: 2, commit: 2 }, []);
    assert.match(s.violations[0] ?? '', /committed entry changed: index 2/);

    const t = new StoreSafety();
    t.appliedEntries('n1', [entry(1, 1, 'x')]);
    t.appliedEntries('n2', [entry(1, 1, 'y')]);
    assert.match(t.violations[0] ?? '', /applied entries differ at index 1/);
  });

  it('a restart that lost an acknowledged commit, or whose log ends below its commit, is a violation', () => {
    const s = new StoreSafety();
    const view = new LogView('n1', s);
    view.saving({ term: 1, vote: 1, commit: 3 }, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    view.durableCommit = 3;
    view.loaded({
      hardState: { term: 1, vote: 1, commit: 3 },
      snapshot: undefined,
      entries: [entry(1, 1), entry(2, 1), entry(3, 1)],
    });
    assert.deepEqual(s.violations, []);
    view.loaded({ hardState: { term: 1, vote: 1, commit: 2 }, snapshot: undefined, entries: [entry(1, 1)] });
    assert.match(s.violations[0] ?? '', /commit 2 is below the acknowledged 3/);
    assert.match(s.violations[1] ?? '', /log ends at 1, below its commit 2/);
  });

  it('equal applied index with another revision or state hash is a violation', () => {
    const s = new StoreSafety();
    s.appliedState('n1', 7, 5, 'aaaa');
    s.appliedState('n2', 7, 5, 'aaaa');
    assert.deepEqual(s.violations, []);
    s.appliedState('n3', 7, 5, 'bbbb');
    assert.match(s.violations[0] ?? '', /applied state differs at index 7/);
  });
});

describe('store swarm watch checks', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const put = (key: string, value: string, rev: number) => ({
    type: 'put' as const,
    kv: { key: enc(key), value: enc(value), createRevision: rev, modRevision: rev, version: 1, lease: 0 },
  });
  const res = (...events: ReturnType<typeof put>[]) => ({
    header: { clusterId: 1, memberId: 1, revision: 9, raftTerm: 1 },
    watchId: 1,
    events,
  });

  it('flags a revision delivered twice, different events at one revision, and a lost revision', () => {
    const s = new StoreSafety();
    const w = new WatchChecker(s);
    const a = w.open('n1', 0);
    a.onResponse(res(put('a', '1', 2)));
    a.onResponse(res(put('a', '1', 2)));
    assert.match(s.violations[0] ?? '', /revision 2 delivered after 2/);

    const t = new StoreSafety();
    const v = new WatchChecker(t);
    const b = v.open('n1', 1);
    const c = v.open('n2', 1);
    b.onResponse(res(put('a', '1', 2), put('b', '1', 3), put('c', '1', 4)));
    c.onResponse(res(put('a', '1', 2)));
    c.onResponse(res(put('c', '1', 4)));
    assert.deepEqual(t.violations, []);
    assert.match(v.checkNoLoss() ?? '', /n2#1 \(from 1\) missed revisions 3/);
    c.onResponse(res(put('c', '2', 5)));
    b.onResponse(res(put('c', '3', 5)));
    assert.match(t.violations[0] ?? '', /watch events differ at revision 5/);
  });
});
