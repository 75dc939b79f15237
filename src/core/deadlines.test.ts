import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { FifoDeadlines } from './deadlines.js';
import { ManualClock } from './manual-clock.js';

interface Entry {
  readonly id: number;
  readonly at: number;
  dead: boolean;
  expiredAt?: number;
}

function setup(clock: ManualClock, sweepAt?: number) {
  const expired: Entry[] = [];
  const q = new FifoDeadlines<Entry>(clock, {
    expire: (e) => {
      e.expiredAt = clock.now();
      expired.push(e);
    },
    live: (e) => !e.dead && e.expiredAt === undefined,
    ...(sweepAt === undefined ? {} : { sweepAt }),
  });
  let next = 0;
  const add = (timeoutMs: number): Entry => {
    const e: Entry = { id: next++, at: clock.now() + timeoutMs, dead: false };
    q.add(e);
    return e;
  };
  return { q, expired, add };
}

describe('FifoDeadlines', () => {
  it('expires entries at their deadlines, in order, on one timer', () => {
    const clock = new ManualClock();
    const { expired, add } = setup(clock);
    const a = add(100);
    clock.advance(30);
    const b = add(100);
    assert.equal(clock.pending, 1);
    clock.advance(69);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, [a]);
    assert.equal(a.expiredAt, a.at);
    clock.advance(30);
    assert.deepEqual(expired, [a, b]);
    assert.equal(clock.pending, 0);
  });

  it('never expires an entry that stopped being live, and re-arms past it', () => {
    const clock = new ManualClock();
    const { expired, add } = setup(clock);
    const a = add(100);
    clock.advance(10);
    const b = add(100);
    a.dead = true;
    clock.advance(90);
    assert.deepEqual(expired, []);
    clock.advance(10);
    assert.deepEqual(expired, [b]);
  });

  it('drops dead entries from the front as entries are added', () => {
    const clock = new ManualClock();
    const { q, add } = setup(clock);
    for (let i = 0; i < 10; i++) add(100).dead = true;
    add(100);
    assert.equal(q.size, 1);
  });

  it('keeps nothing it passed over: dead and expired entries can be collected at once', async () => {
    // gc() without --expose-gc on the command line: the flag, then a fresh context's global.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const clock = new ManualClock();
    let expiredCount = 0;
    const q = new FifoDeadlines<Entry>(clock, {
      expire: () => {
        expiredCount++;
      },
      live: (e) => !e.dead,
    });
    const refs: WeakRef<Entry>[] = [];
    // Fewer than the compaction threshold, and a live entry stays at the end: the array stays.
    const fill = () => {
      const first: Entry = { id: 0, at: clock.now() + 50, dead: false };
      q.add(first);
      refs.push(new WeakRef(first));
      const behind: Entry[] = [];
      for (let i = 1; i <= 100; i++) {
        const e: Entry = { id: i, at: clock.now() + 100, dead: false };
        q.add(e); // the live first entry keeps them queued
        behind.push(e);
        refs.push(new WeakRef(e));
      }
      for (const e of behind) e.dead = true;
      const pass: Entry = { id: 101, at: clock.now() + 60, dead: false };
      q.add(pass);
      refs.push(new WeakRef(pass));
      q.add({ id: 102, at: clock.now() + 1_000, dead: false }); // stays live
    };
    fill();
    clock.advance(999); // 0 expires, the dead ones are passed over, 101 expires; 102 stays queued
    assert.equal(expiredCount, 2);
    assert.equal(q.size, 1);
    await new Promise((r) => setImmediate(r)); // WeakRef targets are kept until the job ends
    gc();
    assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
  });

  it('sweeps dead entries anywhere once sweepAt are queued', () => {
    const clock = new ManualClock();
    const { q, add } = setup(clock, 8);
    add(100); // stays live at the front
    const dead = Array.from({ length: 7 }, () => add(100));
    for (const e of dead) e.dead = true;
    assert.equal(q.size, 8);
    add(100);
    assert.equal(q.size, 2);
  });

  it('clear drops every entry and the timer', () => {
    const clock = new ManualClock();
    const { q, expired, add } = setup(clock);
    add(100);
    add(100);
    q.clear();
    assert.equal(q.size, 0);
    assert.equal(clock.pending, 0);
    clock.advance(200);
    assert.deepEqual(expired, []);
    const c = add(50);
    clock.advance(50);
    assert.deepEqual(expired, [c]);
  });

  it('an expire that adds an entry (and triggers a sweep) keeps the queue whole', () => {
    const clock = new ManualClock();
    const expired: number[] = [];
    let id = 0;
    const q: FifoDeadlines<{ id: number; at: number; done: boolean }> = new FifoDeadlines(clock, {
      live: (e) => !e.done,
      expire: (e) => {
        e.done = true;
        expired.push(e.id);
        if (e.id < 3) push(10);
      },
      sweepAt: 2,
    });
    const push = (t: number) => {
      const e = { id: id++, at: clock.now() + t, done: false };
      q.add(e);
    };
    push(10);
    push(10);
    clock.advance(10);
    assert.deepEqual(expired, [0, 1]);
    clock.advance(10);
    assert.deepEqual(expired, [0, 1, 2, 3]);
    clock.advance(10);
    assert.deepEqual(expired, [0, 1, 2, 3, 4]);
    assert.equal(clock.pending, 0);
    assert.equal(q.size, 0);
  });

  it('an entry behind a later deadline expires late, never early', () => {
    const clock = new ManualClock();
    const { q, expired } = setup(clock);
    const late = { id: 0, at: clock.now() + 100, dead: false } as Entry;
    const early = { id: 1, at: clock.now() + 50, dead: false } as Entry;
    q.add(late);
    q.add(early);
    clock.advance(99);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, [late, early]);
  });

  it('matches a model: every live entry expires at its deadline, no sooner, exactly once', () => {
    type Op =
      | { kind: 'add'; timeout: number }
      | { kind: 'kill'; pick: number }
      | { kind: 'tick'; ms: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), timeout: fc.integer({ min: 100, max: 100 }) }),
      fc.record({ kind: fc.constant('kill' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 60 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.option(fc.integer({ min: 1, max: 16 })),
        (ops: Op[], sweep) => {
          const clock = new ManualClock();
          const { q, add } = setup(clock, sweep ?? undefined);
          const all: Entry[] = [];
          const check = (added: boolean) => {
            for (const e of all) {
              if (e.expiredAt !== undefined)
                assert.equal(e.expiredAt, e.at, `entry ${e.id} expired off time`);
              else if (!e.dead) assert.ok(e.at > clock.now(), `live entry ${e.id} past its deadline`);
            }
            assert.ok(clock.pending <= 1);
            // Dead entries leave lazily: the sweep runs in `add`, so the bound holds right after one
            // (entries that die between adds stay queued until the next add, expiry or clear).
            if (sweep !== null && added) {
              const live = all.filter((e) => !e.dead && e.expiredAt === undefined).length;
              assert.ok(q.size <= Math.max(sweep, live), `${q.size} queued after an add, ${live} live`);
            }
          };
          for (const o of ops) {
            if (o.kind === 'add') all.push(add(o.timeout));
            else if (o.kind === 'kill') {
              const live = all.filter((e) => !e.dead && e.expiredAt === undefined);
              if (live.length > 0) live[o.pick % live.length]!.dead = true;
            } else clock.advance(o.ms);
            check(o.kind === 'add');
          }
          clock.advance(1000);
          check(false);
          assert.equal(q.size, 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
