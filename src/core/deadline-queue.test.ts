import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { DeadlineQueue } from './deadline-queue.js';
import { ManualClock } from './manual-clock.js';

const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
console.log(
  `seed=${seed} replay: CAIRN_SEED=${seed} node --import tsx --test src/core/deadline-queue.test.ts`,
);

describe('deadline queue', () => {
  it('fires each deadline once, in deadline order, not before it is due', () => {
    const clock = new ManualClock(1000);
    const q = new DeadlineQueue(clock);
    const fired: string[] = [];
    q.add(30, () => fired.push('c'));
    q.add(10, () => fired.push('a'));
    q.add(20, () => fired.push('b'));
    clock.advance(9);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, ['a']);
    clock.advance(100);
    assert.deepEqual(fired, ['a', 'b', 'c']);
    assert.equal(q.size, 0);
  });

  it('never fires a cancelled deadline and drops cancelled entries', () => {
    const clock = new ManualClock(0);
    const q = new DeadlineQueue(clock);
    let fired = 0;
    const entries = Array.from({ length: 1000 }, (_, i) => q.add(10 + i, () => fired++));
    for (const e of entries.slice(0, 999)) e.cancel();
    assert.ok(q.size < 200, `cancelled entries kept: ${q.size}`);
    clock.advance(5000);
    assert.equal(fired, 1);
    assert.equal(q.size, 0);
  });

  it('keeps nothing a cancelled entry captured, while the entry waits in the heap or after a rebuild', async () => {
    // gc() without --expose-gc on the command line: the flag, then a fresh context's global.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const clock = new ManualClock(0);
    const q = new DeadlineQueue(clock);
    const refs: WeakRef<object>[] = [];
    const fill = (n: number) => {
      for (let i = 0; i < n; i++) {
        const call = { id: i };
        refs.push(new WeakRef(call));
        q.add(1_000 + i, () => assert.fail(`call ${call.id} was cancelled`)).cancel();
      }
    };
    fill(40); // under the rebuild threshold: the cancelled entries stay in the heap
    q.add(5_000, () => {}); // a live one keeps the heap in use
    assert.equal(q.size, 41);
    fill(200); // past it: rebuilt in place
    assert.ok(q.size < 241);
    await new Promise((r) => setImmediate(r)); // WeakRef targets are kept until the job ends
    gc();
    assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
    clock.advance(10_000);
  });

  it('re-arms for a deadline beyond what one Node timer can wait', () => {
    const clock = new ManualClock(0);
    const q = new DeadlineQueue(clock);
    let fired = false;
    q.add(2 ** 31 + 5000, () => {
      fired = true;
    });
    clock.advance(2 ** 31);
    assert.equal(fired, false);
    clock.advance(5000);
    assert.equal(fired, true);
  });

  it('matches a list model under random adds, cancels and advances (property)', () => {
    type Op =
      | { kind: 'add'; delay: number }
      | { kind: 'cancel'; index: number }
      | { kind: 'advance'; ms: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), delay: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant('cancel' as const), index: fc.nat(50) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops: Op[]) => {
        const clock = new ManualClock(0);
        const q = new DeadlineQueue(clock);
        const model: { at: number; live: boolean; fired: boolean }[] = [];
        const entries: { cancel(): void }[] = [];
        const fired: number[] = [];
        for (const o of ops) {
          if (o.kind === 'add') {
            const id = model.length;
            model.push({ at: clock.now() + o.delay, live: true, fired: false });
            entries.push(q.add(o.delay, () => fired.push(id)));
          } else if (o.kind === 'cancel' && o.index < entries.length) {
            entries[o.index]!.cancel();
            if (!model[o.index]!.fired) model[o.index]!.live = false;
          } else if (o.kind === 'advance') {
            clock.advance(o.ms);
            for (const m of model) if (m.live && !m.fired && m.at <= clock.now()) m.fired = true;
          }
          for (const [id, m] of model.entries()) {
            assert.equal(fired.includes(id), m.fired, `entry ${id} at ${m.at}, now ${clock.now()}`);
          }
        }
        assert.equal(new Set(fired).size, fired.length);
      }),
      { seed, numRuns: 300 },
    );
  });
});
